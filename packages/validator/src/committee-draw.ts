/**
 * Draws the committees of the disputes this validator opened. `Disputes.challenge` only schedules
 * the draw: the committee comes from the hash of the block after the challenge, so the challenger
 * cannot pick it. Once the chain has moved past that seed block, anyone may call `drawCommittee`;
 * the challenger does it on its next tick. A chain that mines only on transactions (a devnet with
 * automine and no other traffic) may never move on by itself: `advanceChain` then makes the next
 * block (the devnet passes `evm_mine`). Production chains make blocks on their own and pass none.
 */
import type { ChainClients } from "@verity/chain";
import { disputesAbi } from "@verity/contracts";
import { BaseError, type Deployment } from "@verity/core";
import { parseEventLogs } from "viem";
import type { ValidatorEvent } from "./challenger.ts";
import type { DisputeStore } from "./dispute-store.ts";
import type { TxSender } from "./tx-sender.ts";

/** Vote window ends of a dispute whose committee was drawn at `drawnAt` (chain seconds). */
export function windowsFrom(drawnAt: number, windows: { commitWindow: number; revealWindow: number }) {
  return {
    commitEnd: drawnAt + windows.commitWindow,
    revealEnd: drawnAt + windows.commitWindow + windows.revealWindow,
  };
}

export function createCommitteeDraw(options: {
  clients: ChainClients;
  deployment: Deployment;
  store: DisputeStore;
  sender: TxSender;
  windows: () => Promise<{ commitWindow: number; revealWindow: number }>;
  /** Makes the chain produce a block (devnets that mine only on transactions); absent elsewhere. */
  advanceChain?: () => Promise<void>;
  onEvent?: (event: ValidatorEvent) => void;
}) {
  const { clients, store } = options;
  const address = options.deployment.contracts.Disputes.address;
  const read = clients.publicClient.readContract;
  /** Disputes known to be drawn (their windows are stored), so they are not read again. */
  const drawn = new Set<string>();

  async function drawOne(disputeId: string): Promise<void> {
    const id = BigInt(disputeId);
    const d = await read({ address, abi: disputesAbi, functionName: "getDispute", args: [id] });
    if (d.status !== 1 || Number(d.drawnAt) !== 0) {
      if (Number(d.drawnAt) !== 0) store.setWindows(disputeId, windowsFrom(Number(d.drawnAt), await options.windows()));
      drawn.add(disputeId);
      return;
    }
    let head = await clients.publicClient.getBlockNumber();
    // The draw transaction is mined in a block after `head`: the seed block must be mined by then.
    if (head < d.seedBlock && options.advanceChain) {
      await options.advanceChain();
      head = await clients.publicClient.getBlockNumber();
    }
    if (head < d.seedBlock) return; // next tick
    const receipt = await options.sender.send(`Drawing the committee of dispute ${id}`, {
      address,
      abi: disputesAbi,
      functionName: "drawCommittee",
      args: [id],
    });
    const [event] = parseEventLogs({ abi: disputesAbi, logs: receipt.logs, eventName: "CommitteeDrawn" });
    if (!event) return; // re-scheduled (the seed block was too old): drawn on a later tick
    const block = await clients.publicClient.getBlock({ blockNumber: receipt.blockNumber });
    store.setWindows(disputeId, windowsFrom(Number(block.timestamp), await options.windows()));
    drawn.add(disputeId);
    options.onEvent?.({
      event: "committee_drawn_by_challenger",
      disputeId,
      members: event.args.members,
      txHash: receipt.transactionHash,
    });
  }

  return {
    /** Draws the committee of every open dispute this validator opened whose draw is due. */
    async drawPending(): Promise<void> {
      for (const d of store.open()) {
        if (d.role !== "challenger" || drawn.has(d.disputeId)) continue;
        try {
          await drawOne(d.disputeId);
        } catch (error) {
          // A revert (e.g. not_enough_validators, or someone else drew first) is retried next tick.
          const code = error instanceof BaseError ? error.code : undefined;
          if (code === "committee_already_drawn") continue;
          throw error;
        }
      }
    },
  };
}

export type CommitteeDraw = ReturnType<typeof createCommitteeDraw>;
