/**
 * Turns the gateway's batch-settlement vouchers into money on chain: every `claimIntervalSeconds`
 * the latest voucher of each channel with unclaimed charges goes into one `claimWithSignature`
 * batch (the gateway signs it as the channels' receiver authorizer), and every
 * `settleIntervalSeconds` what was claimed is swept to the gateway's account with one transfer.
 * Built on the scheme's own `BatchSettlementChannelManager` (its claim and settle), with our own
 * unref'd timers and one job at a time; `claimAndSettle()` runs both now, and
 * `stop()` does a last one so nothing charged waits for the next start.
 */
import type { FacilitatorClient } from "@x402/core/server";
import type { Network } from "@x402/core/types";
import type { BatchSettlementEvmScheme } from "@x402/evm/batch-settlement/server";
import type { Address } from "viem";

export type BatchClaims = {
  start(): void;
  /** Claims every channel with unclaimed charges, then sweeps; returns the claimed voucher count. */
  claimAndSettle(): Promise<{ vouchers: number; transactions: string[] }>;
  stop(): Promise<void>;
};

export function createBatchClaims(options: {
  scheme: BatchSettlementEvmScheme;
  facilitator: FacilitatorClient;
  network: Network;
  token: Address;
  claimIntervalSeconds?: number;
  settleIntervalSeconds?: number;
  onError?: (error: unknown) => void;
}): BatchClaims {
  const manager = options.scheme.createChannelManager(options.facilitator, options.network, options.token);
  const onError = options.onError ?? (() => {});
  const timers: NodeJS.Timeout[] = [];
  // One job at a time: a claim and a sweep never race for the gateway's account nonce.
  let queue: Promise<unknown> = Promise.resolve();
  const run = <T>(job: () => Promise<T>): Promise<T> => {
    const next = queue.then(job);
    queue = next.catch(onError);
    return next;
  };
  const every = (seconds: number, job: () => Promise<unknown>) => {
    // unref: a background claim never keeps a stopping process alive (stop() claims last).
    timers.push(setInterval(() => void run(job).catch(onError), seconds * 1000).unref());
  };
  return {
    start() {
      if (timers.length > 0) return;
      every(options.claimIntervalSeconds ?? 60, () => manager.claim());
      every(options.settleIntervalSeconds ?? 300, () => manager.settle());
    },
    claimAndSettle() {
      return run(async () => {
        const { claims, settle } = await manager.claimAndSettle();
        return {
          vouchers: claims.reduce((n, c) => n + c.vouchers, 0),
          transactions: [...claims.map((c) => c.transaction), ...(settle ? [settle.transaction] : [])],
        };
      });
    },
    async stop() {
      const wasRunning = timers.length > 0;
      for (const timer of timers.splice(0)) clearInterval(timer);
      if (wasRunning) await run(() => manager.claimAndSettle()).catch(onError);
    },
  };
}
