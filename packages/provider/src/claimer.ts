import { type ChainClients, toChainError } from "@verity/chain";
import { paymentChannelsAbi } from "@verity/contracts";
import type { ChannelMirror } from "./channel-mirror.ts";
import type { ChannelCharges, ClaimItem, ProviderStore } from "./store.ts";

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

export type ClaimReport = { txHash: `0x${string}`; channels: number; amount: bigint };

/**
 * Settles what channels owe: batches the best voucher of many channels into one `claim`
 * transaction, each settling exactly the charged total (the voucher is only the cap). A claim is
 * recorded before it is sent and reconciled with the chain after a restart, and the contract pays
 * only the increase over what it already paid, so the same increase is never claimed twice.
 */
export function createClaimer(options: {
  store: ProviderStore;
  clients: ChainClients;
  paymentChannels: `0x${string}`;
  mirror: ChannelMirror;
  policy?: Partial<ClaimPolicy>;
  now?: () => number;
  onClaim?: (report: ClaimReport) => void;
  onError?: (error: unknown) => void;
}) {
  const policy = { ...DEFAULT_CLAIM_POLICY, ...options.policy };
  const now = options.now ?? Date.now;
  const { store, clients, mirror } = options;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<ClaimReport | undefined> | undefined;
  let failures = 0;

  /** Settles records left open by a crash, and adopts what the chain already shows as claimed. */
  async function reconcile(): Promise<void> {
    for (const claim of store.openClaims()) {
      if (claim.txHash) {
        try {
          const receipt = await clients.publicClient.getTransactionReceipt({ hash: claim.txHash as `0x${string}` });
          if (receipt.status === "success") {
            for (const item of claim.items) store.markClaimed(item.channelId, item.amount, now());
            store.updateClaim(claim.id, { status: "confirmed" }, now());
          } else {
            store.updateClaim(claim.id, { status: "failed", error: "reverted" }, now());
          }
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

  function due(force: boolean): ChannelCharges[] {
    const open = store.unclaimed().filter((c) => {
      const channel = mirror.get(c.channelId);
      return channel !== undefined && !channel.finalized && c.charged > channel.claimed;
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

  async function claimOnce(force = false): Promise<ClaimReport | undefined> {
    await reconcile();
    const channels = due(force).slice(0, policy.maxBatch);
    if (channels.length === 0) return undefined;
    const items: ClaimItem[] = channels.map((c) => ({
      channelId: c.channelId,
      amount: c.charged,
      voucherAmount: c.voucherAmount,
      signature: c.voucherSignature as `0x${string}`,
    }));
    const id = store.beginClaim(items, now());
    let hash: `0x${string}`;
    try {
      hash = await clients.walletClient.writeContract({
        address: options.paymentChannels,
        abi: paymentChannelsAbi,
        functionName: "claim",
        args: [
          items.map((i) => ({
            channelId: i.channelId,
            cumulativeAmount: i.voucherAmount,
            amount: i.amount,
            signature: i.signature,
          })),
        ],
        chain: clients.chain,
        account: clients.account,
      });
    } catch (error) {
      store.updateClaim(
        id,
        { status: "failed", error: String((error as Error).message ?? error).slice(0, 500) },
        now(),
      );
      throw toChainError("Claiming", error);
    }
    store.updateClaim(id, { status: "sent", txHash: hash }, now());
    const receipt = await clients.publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") {
      store.updateClaim(id, { status: "failed", error: "reverted" }, now());
      throw new Error(`claim transaction ${hash} reverted`);
    }
    for (const item of items) store.markClaimed(item.channelId, item.amount, now());
    store.updateClaim(id, { status: "confirmed" }, now());
    const report = { txHash: hash, channels: items.length, amount: items.reduce((s, i) => s + i.amount, 0n) };
    options.onClaim?.(report);
    return report;
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
        await claimNow(false);
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
    start(): void {
      schedule(1_000);
    },
    async stop(): Promise<void> {
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}

export type Claimer = ReturnType<typeof createClaimer>;
