import { type ChainClients, createVoucherVerifier, toChainError } from "@verity/chain";
import { paymentChannelsAbi } from "@verity/contracts";
import type { ChannelConfig, ReasonCode } from "@verity/core";
import type { TransactionReceipt } from "viem";
import type { ChannelMirror, MirroredChannel } from "./channel-mirror.ts";
import { claimOutcome, isSkippableClaimError, type SkippableClaimError, skipReasonCode } from "./claim-outcome.ts";
import { createEarningsWithdrawer, type PayoutPolicy, type WithdrawReport } from "./earnings-withdrawer.ts";
import type { ChannelCharges, ClaimItem, ClaimSkip, ProviderStore } from "./store.ts";

export type ClaimPolicy = {
  /** Claim once the unclaimed total reaches this many base units (default 1 TUSD = 1,000,000). */
  minValue: bigint;
  /** …or once the oldest unclaimed charge is this old, in ms (default 10 minutes). */
  maxAgeMs: number;
  /** …or when a channel's withdrawal can finalize within this many seconds (default 1 hour). */
  withdrawMarginSeconds: number;
  /** Most channels per claim transaction (default 500). */
  maxBatch: number;
};

export const DEFAULT_CLAIM_POLICY: ClaimPolicy = {
  minValue: 1_000_000n,
  maxAgeMs: 10 * 60_000,
  withdrawMarginSeconds: 3_600,
  maxBatch: 500,
};

export type ClaimReport = {
  txHash: `0x${string}`;
  /** Channels the transaction paid. */
  channels: number;
  /** What it paid out in total (the increases over what the channels had already paid). */
  amount: bigint;
  /** Claims the contract skipped (or that reverted a batch on their own), with their reason code. */
  skipped: SkippedClaim[];
};

export type SkippedClaim = { channelId: `0x${string}`; reason: ReasonCode };

/** Skips that only a new voucher or a top-up cannot cure: the channel is gone, or never existed. */
const FINAL_SKIPS = new Set(["channel_closed", "channel_not_found"]);

/**
 * Settles what channels owe: batches the best voucher of many channels into one `claim`
 * transaction, each settling exactly the charged total (the voucher is only the cap). A claim is
 * recorded before it is sent and reconciled with the chain after a restart, and the contract pays
 * only the increase over what it already paid, so the same increase is never claimed twice. What a
 * transaction paid is read from its `Claimed` events (the channel's new total, which a small
 * deposit may cap). A claim the contract skips (`ClaimSkipped`) is recorded with its reason code
 * and the voucher and deposit it was tried with; the channel keeps its charges owed and is tried
 * again only once it holds a new voucher or the deposit grew (never when closed or unknown). A
 * batch in which every claim fails reverts naming the first one: that claim is recorded the same
 * way and the rest are sent again without it.
 *
 * A claim only credits the provider's share to the agent inside PaymentChannels. Given `agentId`,
 * the claimer also gets the provider paid (`createEarningsWithdrawer`): after a claim round it
 * withdraws the agent's earnings once they reach `payout.minAmount` (default 10 TUSD) or
 * `payout.maxIntervalMs` passed (default 1 hour), and whatever is left on `stop()`.
 */
export function createClaimer(options: {
  store: ProviderStore;
  clients: ChainClients;
  paymentChannels: `0x${string}`;
  mirror: ChannelMirror;
  policy?: Partial<ClaimPolicy>;
  now?: () => number;
  onClaim?: (report: ClaimReport) => void;
  /** Called once per recorded skip (a skipped claim is not sent again until its channel changes). */
  onSkip?: (skip: SkippedClaim) => void;
  onError?: (error: unknown) => void;
  /** The agent whose earnings to withdraw (the claimer's key must be its receiver side); none: never withdraws. */
  agentId?: bigint;
  payout?: Partial<PayoutPolicy>;
  onWithdraw?: (report: WithdrawReport) => void;
}) {
  const policy = { ...DEFAULT_CLAIM_POLICY, ...options.policy };
  const now = options.now ?? Date.now;
  const { store, clients, mirror, paymentChannels } = options;
  const verifier = createVoucherVerifier({ chainId: clients.chain.id, verifyingContract: paymentChannels });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<ClaimReport | undefined> | undefined;
  let failures = 0;
  const withdrawer =
    options.agentId === undefined
      ? undefined
      : createEarningsWithdrawer({
          clients,
          paymentChannels,
          agentId: options.agentId,
          ...(options.payout ? { policy: options.payout } : {}),
          ...(options.now ? { now: options.now } : {}),
          ...(options.onWithdraw ? { onWithdraw: options.onWithdraw } : {}),
        });

  /** Records skipped claims with the chain's view of their channels (adopting what it already paid). */
  async function recordSkips(
    claimId: number,
    items: readonly ClaimItem[],
    skipped: ReadonlyMap<`0x${string}`, SkippableClaimError | undefined>,
  ): Promise<SkippedClaim[]> {
    const recorded: SkippedClaim[] = [];
    for (const [channelId, error] of skipped) {
      const item = items.find((i) => i.channelId === channelId);
      if (!item) continue;
      const [deposit, claimed] = await clients.publicClient.readContract({
        address: paymentChannels,
        abi: paymentChannelsAbi,
        functionName: "channelState",
        args: [channelId],
      });
      const onChain = { deposit, claimed };
      store.markClaimed(channelId, onChain.claimed, now());
      const reason = skipReasonCode(error);
      store.recordSkip({
        channelId,
        reason,
        voucherAmount: item.voucherAmount,
        deposit: onChain.deposit,
        claimId,
        skippedAt: now(),
      });
      recorded.push({ channelId, reason });
      options.onSkip?.({ channelId, reason });
    }
    return recorded;
  }

  /** Applies a successful claim transaction: what it paid, then what it skipped. */
  async function settle(claimId: number, items: readonly ClaimItem[], receipt: TransactionReceipt) {
    const outcome = claimOutcome({ logs: receipt.logs, paymentChannels });
    let amount = 0n;
    for (const [channelId, paid] of outcome.paid) {
      store.markClaimed(channelId, paid.claimed, now());
      store.clearSkip(channelId);
      amount += paid.increase;
    }
    const skipped = await recordSkips(claimId, items, outcome.skipped);
    store.updateClaim(claimId, { status: "confirmed" }, now());
    return { channels: outcome.paid.size, amount, skipped };
  }

  /** Settles records left open by a crash, and adopts what the chain already shows as claimed. */
  async function reconcile(): Promise<void> {
    for (const claim of store.openClaims()) {
      if (claim.txHash) {
        try {
          const receipt = await clients.publicClient.getTransactionReceipt({ hash: claim.txHash as `0x${string}` });
          if (receipt.status === "success") await settle(claim.id, claim.items, receipt);
          else store.updateClaim(claim.id, { status: "failed", error: "reverted" }, now());
          continue;
        } catch {
          // not mined (or unknown): fall through and let the chain state decide
        }
      }
      store.updateClaim(claim.id, { status: "failed", error: "not confirmed before restart" }, now());
    }
    for (const charges of store.unclaimed()) {
      const onChain = mirror.get(charges.channelId)?.claimed ?? 0n;
      if (onChain > charges.claimed) store.markClaimed(charges.channelId, onChain, now());
    }
  }

  /** Whether a skipped channel may be tried again: it holds a new voucher, or its deposit grew. */
  function retryable(skip: ClaimSkip, charges: ChannelCharges, channel: MirroredChannel): boolean {
    if (FINAL_SKIPS.has(skip.reason)) return false;
    return charges.voucherAmount !== skip.voucherAmount || channel.deposit > skip.deposit;
  }

  function due(force: boolean): ChannelCharges[] {
    const skips = store.skips();
    const open = store.unclaimed().filter((c) => {
      const channel = mirror.get(c.channelId);
      if (channel === undefined || channel.config === null || channel.finalized || c.charged <= channel.claimed) {
        return false;
      }
      const skip = skips.get(c.channelId);
      return skip === undefined || retryable(skip, c, channel);
    });
    if (open.length === 0) return [];
    if (force) return open;
    const total = open.reduce((sum, c) => sum + (c.charged - c.claimed), 0n);
    const oldest = Math.min(...open.map((c) => c.firstUnclaimedAt ?? now()));
    const seconds = mirror.chainNow();
    const urgent = open.some((c) => {
      const at = mirror.get(c.channelId)?.withdrawableAt;
      return at !== null && at !== undefined && at - seconds < policy.withdrawMarginSeconds;
    });
    return total >= policy.minValue || now() - oldest >= policy.maxAgeMs || urgent ? open : [];
  }

  /** The terms a claim names its channel by (from the mirror; `due` only picks mirrored channels). */
  function configOf(channelId: `0x${string}`): ChannelConfig {
    const config = mirror.get(channelId)?.config;
    if (!config) throw new Error(`channel ${channelId} has no mirrored terms`);
    return config;
  }

  /**
   * The channel's best voucher signature with the `v` the contract's `ecrecover` maps to the
   * channel's authorizer: the payment gate verifies `r ‖ s` against the authorizer's known key and
   * does not judge `v`, so a voucher sent with `v` flipped is served and its `v` fixed here.
   */
  function claimableSignature(c: ChannelCharges): `0x${string}` {
    const signature = c.voucherSignature as `0x${string}`;
    const authorizer = mirror.get(c.channelId)?.payerAuthorizer;
    if (authorizer === undefined) return signature;
    return verifier.claimable({ channelId: c.channelId, cumulativeAmount: c.voucherAmount, signature }, authorizer);
  }

  async function send(items: readonly ClaimItem[]): Promise<`0x${string}`> {
    return clients.walletClient.writeContract({
      address: paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "claim",
      args: [
        items.map((i) => ({
          config: configOf(i.channelId),
          cumulativeAmount: i.voucherAmount,
          amount: i.amount,
          signature: i.signature,
        })),
      ],
      chain: clients.chain,
      account: clients.account,
    });
  }

  async function claimOnce(force = false): Promise<ClaimReport | undefined> {
    await reconcile();
    let items: ClaimItem[] = due(force)
      .slice(0, policy.maxBatch)
      .map((c) => ({
        channelId: c.channelId,
        amount: c.charged,
        voucherAmount: c.voucherAmount,
        signature: claimableSignature(c),
      }));
    const skippedBefore: ClaimReport["skipped"] = [];
    while (items.length > 0) {
      const id = store.beginClaim(items, now());
      let hash: `0x${string}`;
      try {
        hash = await send(items);
      } catch (error) {
        const message = String((error as Error).message ?? error).slice(0, 500);
        store.updateClaim(id, { status: "failed", error: message }, now());
        const chainError = toChainError("Claiming", error);
        // Every claim of the batch failed and the first one is named: record it, send the rest.
        const name = chainError.details.error as string | undefined;
        const first = (chainError.details.args as string[] | undefined)?.[0]?.toLowerCase();
        const culprit = items.find((i) => i.channelId.toLowerCase() === first);
        if (!isSkippableClaimError(name) || !culprit) throw chainError;
        skippedBefore.push(...(await recordSkips(id, items, new Map([[culprit.channelId, name]]))));
        items = items.filter((i) => i !== culprit);
        continue;
      }
      store.updateClaim(id, { status: "sent", txHash: hash }, now());
      const receipt = await clients.publicClient.waitForTransactionReceipt({ hash });
      if (receipt.status !== "success") {
        store.updateClaim(id, { status: "failed", error: "reverted" }, now());
        throw new Error(`claim transaction ${hash} reverted`);
      }
      const settled = await settle(id, items, receipt);
      const report = { txHash: hash, ...settled, skipped: [...skippedBefore, ...settled.skipped] };
      options.onClaim?.(report);
      return report;
    }
    return undefined;
  }

  /** Runs one claim round (serialised with the timer's rounds). `force` ignores the thresholds. */
  function claimNow(force = false): Promise<ClaimReport | undefined> {
    const previous = running ?? Promise.resolve(undefined);
    const next = previous.catch(() => undefined).then(() => claimOnce(force));
    running = next;
    return next.finally(() => {
      if (running === next) running = undefined;
    });
  }

  function schedule(ms: number): void {
    timer = setTimeout(async () => {
      try {
        const report = await claimNow(false);
        if (withdrawer && (report || withdrawer.intervalElapsed())) await withdrawer.withdrawIfDue();
        failures = 0;
        schedule(5_000);
      } catch (error) {
        failures++;
        options.onError?.(error);
        schedule(Math.min(300_000, 5_000 * 2 ** failures));
      }
    }, ms);
    timer.unref();
  }

  return {
    claimNow,
    reconcile,
    /** Withdraws the agent's credited earnings now (undefined: nothing credited, or no `agentId`). */
    withdrawNow: (): Promise<WithdrawReport | undefined> => withdrawer?.withdrawNow() ?? Promise.resolve(undefined),
    /** The agent's earnings credited and not withdrawn yet (0 without `agentId`). */
    earnings: (): Promise<bigint> => withdrawer?.earnings() ?? Promise.resolve(0n),
    start(): void {
      schedule(1_000);
    },
    /** Stops the rounds; withdraws whatever earnings are credited (errors go to `onError`). */
    async stop(): Promise<void> {
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
      try {
        await withdrawer?.withdrawNow();
      } catch (error) {
        options.onError?.(error);
      }
    },
  };
}

export type Claimer = ReturnType<typeof createClaimer>;
