/**
 * x402 `batch-settlement` at the gateway's door: a keyless caller funds a payment channel once (an
 * ERC-3009 deposit the facilitator submits) and then pays each request with a cumulative EIP-712
 * voucher that never touches the chain; the gateway claims the latest voucher per channel in
 * batches and sweeps them to its account with one transfer (see batch-claims.ts).
 *
 * Built on the official `@x402/evm` batch-settlement server scheme, registered in the same
 * `x402ResourceServer` as `exact`: it keeps the per-channel record (charged so far, the latest
 * voucher), locks a channel while one of its requests is answered (`x402_channel_busy`), commits a
 * charge only when the answer is released, and answers a client whose cumulative base is stale with
 * a corrective 402 carrying the channel state (`x402_channel_state_mismatch`), from which the
 * unmodified client resyncs and retries. This file adds the trust-boundary parse (zod), Verity
 * reason codes, the durable channel record (batch-channel-storage.ts) and usage-based charging: the
 * voucher's increment is the request's ceiling, the charge is what the answer cost (never more).
 */
import { PaymentError } from "@verity/core";
import { encodePaymentRequiredHeader, encodePaymentResponseHeader } from "@x402/core/http";
import type { x402ResourceServer } from "@x402/core/server";
import type { Network, PaymentPayload, PaymentRequirements, SettleResponse } from "@x402/core/types";
import { type Address, getAddress } from "viem";
import { z } from "zod";
import { PaymentRequiredError } from "./payment-required-error.ts";
import { paymentRejected } from "./x402-reasons.ts";

export const BATCH_SCHEME = "batch-settlement";

const uint = z.string().regex(/^\d{1,78}$/);
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/);
const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/);
const hex = z.string().regex(/^0x([0-9a-fA-F]{2})+$/);

const channelConfig = z.object({
  payer: address,
  payerAuthorizer: address,
  receiver: address,
  receiverAuthorizer: address,
  token: address,
  withdrawDelay: z.number().int().nonnegative(),
  salt: bytes32,
});
const voucher = z.object({ channelId: bytes32, maxClaimableAmount: uint, signature: hex });

/** The payloads a paying request may carry (a cooperative refund is not a payment). */
export const batchPayloadSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("deposit"),
    channelConfig,
    voucher,
    deposit: z.object({ amount: uint, authorization: z.record(z.string(), z.unknown()) }),
  }),
  z.object({ type: z.literal("voucher"), channelConfig, voucher }),
]);

export type BatchVerified = {
  scheme: typeof BATCH_SCHEME;
  version: 2;
  payer: Address;
  /** The request's ceiling: the voucher's increment over the channel's charged total. */
  amount: bigint;
  channelId: string;
  payload: PaymentPayload;
  requirements: PaymentRequirements;
  /** A deposit rides on this request: its settlement submits a transaction. */
  deposit: boolean;
};

export type BatchSettled = { response: SettleResponse; header: string; amount: bigint; txHash?: string };

type Charge = { resourceUrl: string; description: string; amount: bigint; mimeType?: string };

/** Library reasons → Verity codes, with what the payer can do. */
const REASONS: Record<string, { code: Parameters<typeof paymentRejected>[1]["code"]; hint: string }> = {
  invalid_batch_settlement_evm_cumulative_amount_mismatch: {
    code: "x402_channel_state_mismatch",
    hint: "Resync from the channelState in PAYMENT-REQUIRED (the x402 batch-settlement client does this itself)",
  },
  invalid_batch_settlement_evm_channel_busy: {
    code: "x402_channel_busy",
    hint: "Wait for the channel's request in flight to finish, then send the next voucher",
  },
  invalid_batch_settlement_evm_cumulative_exceeds_balance: {
    code: "x402_channel_underfunded",
    hint: "Deposit more into the channel (the client does this when its deposit policy allows)",
  },
  invalid_batch_settlement_evm_charge_exceeds_signed_cumulative: {
    code: "x402_insufficient_amount",
    hint: "Sign a voucher whose maxClaimableAmount covers this request's price",
  },
};

function mapReason(reason: string | undefined) {
  if (reason && REASONS[reason]) return REASONS[reason];
  if (reason?.includes("withdraw")) {
    return { code: "x402_channel_withdrawing" as const, hint: "Open a new channel: this one is being withdrawn" };
  }
  return { code: "x402_payment_invalid" as const, hint: "Sign a fresh voucher for the advertised requirements" };
}

export function createBatchPayments(options: {
  network: Network;
  server: x402ResourceServer;
  token: { address: Address; name: string; version: string };
  payTo: Address;
  maxTimeoutSeconds: number;
}) {
  const { network, server, maxTimeoutSeconds } = options;
  const payTo = getAddress(options.payTo);

  async function requirementsFor(charge: Charge): Promise<PaymentRequirements> {
    const [requirements] = await server.buildPaymentRequirements({
      scheme: BATCH_SCHEME,
      network,
      payTo,
      price: {
        asset: options.token.address,
        amount: charge.amount.toString(),
        extra: { name: options.token.name, version: options.token.version },
      },
      maxTimeoutSeconds,
    });
    if (!requirements) throw new Error(`no x402 requirements for ${BATCH_SCHEME} on ${network}`);
    return requirements;
  }

  /** A 402 whose PAYMENT-REQUIRED carries the channel state the client resyncs from. */
  async function corrective(charge: Charge, payload: PaymentPayload, reason: string, others: PaymentRequirements[]) {
    const requirements = await requirementsFor(charge);
    const body = await server.createPaymentRequiredResponse(
      [...others, requirements],
      { url: charge.resourceUrl, description: charge.description, mimeType: charge.mimeType ?? "application/json" },
      reason,
      undefined,
      undefined,
      payload,
    );
    const mapped = mapReason(reason);
    return new PaymentRequiredError(encodePaymentRequiredHeader(body), body, {
      message: "The voucher's cumulative base is stale; resync from the channel state and pay again",
      code: mapped.code,
      hint: mapped.hint,
    });
  }

  async function verify(
    payload: PaymentPayload,
    charge: Charge,
    others: () => Promise<PaymentRequirements[]>,
  ): Promise<BatchVerified> {
    const parsed = batchPayloadSchema.safeParse(payload.payload);
    if (!parsed.success) {
      throw new PaymentError("The x402 batch-settlement payload does not have the expected shape", {
        code: "x402_payment_invalid",
        hint: "Send a deposit or voucher payload produced by the x402 batch-settlement client",
      });
    }
    const raw = parsed.data;
    const requirements = await requirementsFor(charge);
    const details = { payer: raw.channelConfig.payer, channelId: raw.voucher.channelId };
    if (!server.findMatchingRequirements([requirements], payload)) {
      throw paymentRejected(
        "The x402 payment accepted other terms than this request's (scheme, network, asset, payTo or amount)",
        mapReason(undefined),
        { ...details, accepted: payload.accepted },
      );
    }
    const result = await server.verifyPayment(payload, requirements).catch((cause: unknown) => {
      throw paymentRejected("The x402 payment could not be verified", mapReason(undefined), details, cause);
    });
    if (!result.isValid) {
      const reason = result.invalidReason;
      if (reason === "invalid_batch_settlement_evm_cumulative_amount_mismatch") {
        throw await corrective(charge, payload, reason, await others());
      }
      const mapped = mapReason(reason);
      const error = paymentRejected(`The x402 payment did not verify (${reason ?? "no reason"})`, mapped, {
        ...details,
        reason,
        ...(result.invalidMessage ? { message: result.invalidMessage.slice(0, 500) } : {}),
      });
      throw error;
    }
    return {
      scheme: BATCH_SCHEME,
      version: 2,
      payer: getAddress(raw.channelConfig.payer),
      amount: charge.amount,
      channelId: raw.voucher.channelId.toLowerCase(),
      payload,
      requirements,
      deposit: raw.type === "deposit",
    };
  }

  /**
   * Charges the channel `amount` (≤ the ceiling the voucher covers; default the ceiling): a voucher
   * is committed to the channel record; a deposit is submitted on chain first.
   */
  async function settle(verified: BatchVerified, amount = verified.amount): Promise<BatchSettled> {
    const charged = amount > verified.amount ? verified.amount : amount;
    let response: SettleResponse;
    try {
      response = await server.settlePayment(verified.payload, verified.requirements, undefined, undefined, {
        amount: charged.toString(),
      });
    } catch (cause) {
      response = {
        success: false,
        errorReason: "settle_threw",
        errorMessage: cause instanceof Error ? cause.message : String(cause),
        transaction: "",
        network,
      };
    }
    if (!response.success) {
      const mapped = mapReason(response.errorReason);
      throw new PaymentError(`Charging the batch-settlement channel failed (${response.errorReason ?? "no reason"})`, {
        code: mapped.code === "x402_payment_invalid" ? "x402_settlement_failed" : mapped.code,
        hint: verified.deposit
          ? "The deposit did not land; nothing was charged. Check the payer's token balance and pay again"
          : mapped.hint,
        details: {
          payer: verified.payer,
          channelId: verified.channelId,
          reason: response.errorReason,
          ...(response.errorMessage ? { message: response.errorMessage.slice(0, 500) } : {}),
        },
      });
    }
    return {
      response,
      header: encodePaymentResponseHeader(response),
      amount: charged,
      ...(response.transaction ? { txHash: response.transaction } : {}),
    };
  }

  /** Frees the channel's lock when the request delivered nothing; nothing is charged. */
  async function release(verified: BatchVerified): Promise<void> {
    await server
      .createPaymentCancellationDispatcher(verified.payload, verified.requirements)
      .cancel({ reason: "handler_failed" })
      .catch(() => {});
  }

  return { requirementsFor, verify, settle, release };
}

export type BatchPayments = ReturnType<typeof createBatchPayments>;
