/**
 * The voucher check every Verity receiver shares (the provider node, the SDK's seller middleware):
 * a voucher against the receiver's mirror of its channel, and the headroom reservation.
 */
import { type DecodedVoucher, decodeVoucherHeader, PaymentError } from "@verity/core";
import type { ChannelMirror, MirroredChannel } from "./channel-mirror.ts";
import type { VoucherVerifier } from "./voucher-verifier.ts";

/** What the gate reads of the receiver's own records: the charged total and the vouchers used. */
export type VoucherChargeStore = {
  channel(channelId: `0x${string}`): { charged: bigint };
  /** True when a request on this channel was already paid with a voucher of exactly this amount. */
  voucherUsed(channelId: `0x${string}`, amount: bigint): boolean;
};

export type Reservation = {
  channel: MirroredChannel;
  voucher: DecodedVoucher;
  ceiling: bigint;
  /** Charged total of the channel when the request started (what the client's voucher built on). */
  chargedBefore: bigint;
  /** The new charged total if this request completes with `charge`; call inside the persist step. */
  cumulativeAfter(charge: bigint): bigint;
  /** Gives the reserved headroom back (after completion or failure). Idempotent. */
  release(): void;
};

export type PaymentGateOptions = {
  mirror: Pick<ChannelMirror, "get" | "sync" | "chainNow">;
  store: VoucherChargeStore;
  verifier: VoucherVerifier;
  chainId: number;
  paymentChannels: `0x${string}`;
  /**
   * The address this provider signs receipts with. A channel's receipts must be signed by the
   * signer fixed when it opened (`receiverSigner`); a channel fixed to another key is refused.
   */
  receiptSigner?: `0x${string}`;
  /** Refuse new work on a channel whose withdrawal can finalize within this many seconds (default 300). */
  withdrawMarginSeconds?: number;
  now?: () => number;
};

/**
 * Checks a request's voucher against the local mirror of its channel and reserves the request's
 * ceiling out of the voucher's headroom. Everything here is synchronous after the channel is known,
 * so two concurrent requests on one channel can never spend the same headroom. Rules, in order:
 * wrong chain/contract → `wrong_chain`; unknown, foreign or closed channel → `voucher_wrong_channel`;
 * withdrawal too close → `channel_withdrawing`; not signed by the payer authorizer →
 * `voucher_signer_mismatch`; amount already used → `voucher_replayed`; below what is already owed →
 * `voucher_not_monotonic`; above the deposit → `voucher_exceeds_escrow`; headroom below the ceiling
 * → `voucher_below_ceiling`.
 */
export function createPaymentGate(options: PaymentGateOptions) {
  const { mirror, store, verifier } = options;
  const margin = options.withdrawMarginSeconds ?? 300;
  const now = options.now ?? (() => mirror.chainNow());
  const reserved = new Map<string, bigint>();
  const inFlight = new Map<string, Set<bigint>>();

  function fail(
    code: ConstructorParameters<typeof PaymentError>[1]["code"],
    message: string,
    hint?: string,
    details?: Record<string, unknown>,
  ): never {
    throw new PaymentError(message, { code, ...(hint ? { hint } : {}), ...(details ? { details } : {}) });
  }

  async function authorize(args: { header: string; modelId: bigint; ceiling: bigint }): Promise<Reservation> {
    const voucher = decodeVoucherHeader(args.header);
    if (voucher.chainId !== undefined && voucher.chainId !== options.chainId) {
      fail(
        "wrong_chain",
        `The voucher is for chain ${voucher.chainId}; this provider settles on chain ${options.chainId}`,
      );
    }
    if (voucher.contract !== undefined && voucher.contract.toLowerCase() !== options.paymentChannels.toLowerCase()) {
      fail("wrong_chain", "The voucher names another PaymentChannels contract", `Use ${options.paymentChannels}`);
    }
    let channel = mirror.get(voucher.channelId);
    if (!channel) {
      await mirror.sync(); // a channel opened moments ago: one catch-up, off the hot path
      channel = mirror.get(voucher.channelId);
    }
    if (!channel) {
      fail(
        "voucher_wrong_channel",
        "No open channel to this provider has that id",
        "Open a channel to this provider's agent id",
      );
    }
    if (channel.modelId !== args.modelId) {
      fail(
        "voucher_wrong_channel",
        `The channel is for model ${channel.modelId}, not ${args.modelId}`,
        "Open a channel for this model",
      );
    }
    if (channel.finalized) fail("voucher_wrong_channel", "The channel is closed", "Open a new channel");
    if (
      options.receiptSigner !== undefined &&
      channel.receiverSigner !== null &&
      channel.receiverSigner.toLowerCase() !== options.receiptSigner.toLowerCase()
    ) {
      fail(
        "voucher_wrong_channel",
        "The channel's receipts must be signed by a key this provider no longer signs with",
        "Open a new channel to this provider",
      );
    }
    if (channel.withdrawableAt !== null && channel.withdrawableAt - now() < margin) {
      fail(
        "channel_withdrawing",
        "The channel's withdrawal finalizes too soon to serve and settle this request",
        "Top up the channel to cancel the withdrawal, or open a new one",
      );
    }
    // Verified against the authorizer's known key once seen (`v` is fixed by the claimer).
    if (!verifier.signedBy(voucher, channel.payerAuthorizer)) {
      fail(
        "voucher_signer_mismatch",
        "The voucher is not signed by the channel's payer authorizer",
        "Sign with the payerAuthorizer key over the EIP-712 Voucher type of this chain's PaymentChannels",
      );
    }
    const id = channel.channelId;
    const state = store.channel(id);
    const charged = state.charged > channel.claimed ? state.charged : channel.claimed;
    const owed = charged + (reserved.get(id) ?? 0n);
    const amounts = inFlight.get(id) ?? new Set<bigint>();
    // What a client needs to resync after a request it lost track of (e.g. a stream it aborted):
    // the charged total the provider holds receipts for and the least voucher it accepts now.
    const owedDetails = {
      charged: charged.toString(),
      owed: owed.toString(),
      minimumVoucher: (owed + args.ceiling).toString(),
    };
    if (amounts.has(voucher.cumulativeAmount) || store.voucherUsed(id, voucher.cumulativeAmount)) {
      fail(
        "voucher_replayed",
        "This voucher was already used",
        `Sign a new voucher for at least ${owed + args.ceiling}`,
        owedDetails,
      );
    }
    if (voucher.cumulativeAmount < owed) {
      fail(
        "voucher_not_monotonic",
        `The voucher's amount is below the ${owed} already owed on this channel`,
        `Sign a voucher for at least ${owed + args.ceiling}`,
        owedDetails,
      );
    }
    if (voucher.cumulativeAmount > channel.deposit) {
      fail(
        "voucher_exceeds_escrow",
        `The voucher's amount exceeds the channel's deposit of ${channel.deposit}`,
        "Top up the channel first",
      );
    }
    if (voucher.cumulativeAmount - owed < args.ceiling) {
      fail(
        "voucher_below_ceiling",
        `The voucher leaves ${voucher.cumulativeAmount - owed} of headroom but the request may cost ${args.ceiling}`,
        `Sign a voucher for at least ${owed + args.ceiling} or lower max_tokens`,
        owedDetails,
      );
    }
    reserved.set(id, (reserved.get(id) ?? 0n) + args.ceiling);
    amounts.add(voucher.cumulativeAmount);
    inFlight.set(id, amounts);
    let released = false;
    return {
      channel,
      voucher,
      ceiling: args.ceiling,
      chargedBefore: charged,
      cumulativeAfter(charge) {
        const current = store.channel(id).charged;
        const base = current > channel.claimed ? current : channel.claimed;
        return base + charge;
      },
      release() {
        if (released) return;
        released = true;
        const left = (reserved.get(id) ?? 0n) - args.ceiling;
        if (left > 0n) reserved.set(id, left);
        else reserved.delete(id);
        amounts.delete(voucher.cumulativeAmount);
        if (amounts.size === 0) inFlight.delete(id);
      },
    };
  }

  return {
    authorize,
    /** Headroom currently reserved by in-flight requests on a channel. */
    reservedOn(channelId: `0x${string}`): bigint {
      return reserved.get(channelId.toLowerCase()) ?? 0n;
    },
  };
}

export type PaymentGate = ReturnType<typeof createPaymentGate>;
