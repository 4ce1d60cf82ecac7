/**
 * Settling disputes: after the reveal window anyone may call `resolve`; the challenger does it for
 * its own disputes and committee members after a grace period. A dispute someone else resolved
 * first (`DisputeClosed`) is not an error: its outcome is read from the chain instead.
 */
import type { ChainClients } from "@verity/chain";
import { disputesAbi } from "@verity/contracts";
import { BaseError, type Deployment } from "@verity/core";
import { parseEventLogs } from "viem";
import type { DisputeRecord, DisputeStore } from "./dispute-store.ts";
import type { TxSender } from "./tx-sender.ts";

export type DisputeOutcome = {
  guilty: boolean;
  guiltyVotes: string;
  notGuiltyVotes: string;
  slashed: string;
  refunded: string;
  challengerReward: string;
  treasuryAmount: string;
  bondRecipient: string;
};

/** A `DisputeResolved` event's arguments as stored outcome fields. */
export function outcomeOf(args: {
  guilty: boolean;
  guiltyVotes: bigint;
  notGuiltyVotes: bigint;
  slashed: bigint;
  refunded: bigint;
  challengerReward: bigint;
  treasuryAmount: bigint;
  bondRecipient: `0x${string}`;
}): DisputeOutcome {
  return {
    guilty: args.guilty,
    guiltyVotes: args.guiltyVotes.toString(),
    notGuiltyVotes: args.notGuiltyVotes.toString(),
    slashed: args.slashed.toString(),
    refunded: args.refunded.toString(),
    challengerReward: args.challengerReward.toString(),
    treasuryAmount: args.treasuryAmount.toString(),
    bondRecipient: args.bondRecipient,
  };
}

/** Window lengths of the Disputes contract (immutable), read once. */
export function disputeWindowsReader(args: { publicClient: ChainClients["publicClient"]; disputes: `0x${string}` }) {
  let cached: { commitWindow: number; revealWindow: number } | undefined;
  return async () => {
    if (!cached) {
      const [commitWindow, revealWindow] = await Promise.all([
        args.publicClient.readContract({ address: args.disputes, abi: disputesAbi, functionName: "commitWindow" }),
        args.publicClient.readContract({ address: args.disputes, abi: disputesAbi, functionName: "revealWindow" }),
      ]);
      cached = { commitWindow: Number(commitWindow), revealWindow: Number(revealWindow) };
    }
    return cached;
  };
}

/**
 * Resolves `dispute` (or learns that someone else did) and records the outcome. Returns the outcome
 * and the resolving transaction when this validator sent it; undefined when it is still open.
 */
export async function resolveDispute(args: {
  dispute: DisputeRecord;
  clients: ChainClients;
  deployment: Deployment;
  sender: TxSender;
  store: DisputeStore;
}): Promise<{ outcome: DisputeOutcome; txHash: `0x${string}` | null } | undefined> {
  const { dispute, deployment } = args;
  const address = deployment.contracts.Disputes.address;
  const id = BigInt(dispute.disputeId);
  try {
    const receipt = await args.sender.send(`Resolving dispute ${id}`, {
      address,
      abi: disputesAbi,
      functionName: "resolve",
      args: [id],
    });
    const [event] = parseEventLogs({ abi: disputesAbi, logs: receipt.logs, eventName: "DisputeResolved" });
    if (event) {
      const outcome = outcomeOf(event.args);
      args.store.resolved({
        disputeId: dispute.disputeId,
        guilty: outcome.guilty,
        outcome,
        resolveTx: receipt.transactionHash,
      });
      return { outcome, txHash: receipt.transactionHash };
    }
  } catch (error) {
    if (!(error instanceof BaseError) || error.code !== "dispute_closed") throw error;
  }
  return readOutcome(args);
}

/** The outcome of a closed dispute from its `DisputeResolved` event (undefined while it is open). */
export async function readOutcome(args: {
  dispute: DisputeRecord;
  clients: ChainClients;
  deployment: Deployment;
  store: DisputeStore;
}): Promise<{ outcome: DisputeOutcome; txHash: `0x${string}` | null } | undefined> {
  const address = args.deployment.contracts.Disputes.address;
  const [event] = await args.clients.publicClient.getContractEvents({
    address,
    abi: disputesAbi,
    eventName: "DisputeResolved",
    args: { disputeId: BigInt(args.dispute.disputeId) },
    fromBlock: BigInt(args.deployment.contracts.Disputes.block),
    toBlock: "latest",
  });
  if (!event) return undefined;
  const outcome = outcomeOf(event.args as Parameters<typeof outcomeOf>[0]);
  args.store.resolved({ disputeId: args.dispute.disputeId, guilty: outcome.guilty, outcome });
  return { outcome, txHash: null };
}
