/**
 * Turns the gateway's batch-settlement vouchers into money on chain: every `claimIntervalSeconds`
 * the latest voucher of each channel with unclaimed charges goes into one `claimWithSignature`
 * batch (the gateway signs it as the channels' receiver authorizer), and every
 * `settleIntervalSeconds` what was claimed is swept to the gateway's account with one transfer.
 * Built on the scheme's own `BatchSettlementChannelManager`; `claimAndSettle()` runs both now, and
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
  let running = false;
  return {
    start() {
      if (running) return;
      running = true;
      manager.start({
        claimIntervalSecs: options.claimIntervalSeconds ?? 60,
        settleIntervalSecs: options.settleIntervalSeconds ?? 300,
        onError: options.onError ?? (() => {}),
      });
    },
    async claimAndSettle() {
      const { claims, settle } = await manager.claimAndSettle();
      return {
        vouchers: claims.reduce((n, c) => n + c.vouchers, 0),
        transactions: [...claims.map((c) => c.transaction), ...(settle ? [settle.transaction] : [])],
      };
    },
    async stop() {
      if (!running) return;
      running = false;
      await manager.stop({ flush: true }).catch(options.onError ?? (() => {}));
    },
  };
}
