/**
 * Releases refunds that guilty verdicts on this validator's challenges held back. A verdict pays the
 * payer at once only what the channel has already paid the provider; the rest of what the payer is
 * owed waits in Disputes until the provider claims it from the channel (or the channel closes), and
 * `releaseRefund` then sends it to the payer. Anyone may call it; the challenger does, on its ticks,
 * so a provider convicted before it settled its vouchers cannot keep the payment.
 */
import type { ChainClients } from "@verity/chain";
import { disputesAbi } from "@verity/contracts";
import { BaseError, type Deployment } from "@verity/core";
import type { ValidatorEvent } from "./challenger.ts";
import type { DisputeStore } from "./dispute-store.ts";
import type { TxSender } from "./tx-sender.ts";

export function createRefundRelease(options: {
  clients: ChainClients;
  deployment: Deployment;
  store: DisputeStore;
  sender: TxSender;
  onEvent?: (event: ValidatorEvent) => void;
}) {
  const address = options.deployment.contracts.Disputes.address;
  const read = options.clients.publicClient.readContract;
  /** Guilty disputes with nothing (left) held. */
  const done = new Set<string>();

  async function releaseOne(disputeId: string): Promise<void> {
    const id = BigInt(disputeId);
    const held = await read({ address, abi: disputesAbi, functionName: "heldRefundOf", args: [id] });
    if (held === 0n) {
      done.add(disputeId);
      return;
    }
    try {
      const receipt = await options.sender.send(`Releasing the held refund of dispute ${id}`, {
        address,
        abi: disputesAbi,
        functionName: "releaseRefund",
        args: [id],
      });
      options.onEvent?.({ event: "refund_released", disputeId, txHash: receipt.transactionHash });
    } catch (error) {
      // Nothing paid since the verdict: the provider has not claimed yet. Try again next tick.
      if (error instanceof BaseError && error.code === "refund_not_releasable") return;
      if (error instanceof BaseError && error.code === "no_refund_held") return void done.add(disputeId);
      throw error;
    }
  }

  return {
    /** Releases what can be released of every held refund of this validator's guilty challenges. */
    async releasePending(): Promise<void> {
      for (const d of options.store.list(1000)) {
        if (d.role !== "challenger" || d.status !== "guilty" || done.has(d.disputeId)) continue;
        await releaseOne(d.disputeId);
      }
    },
  };
}

export type RefundRelease = ReturnType<typeof createRefundRelease>;
