/**
 * Follows the Disputes contract with `eth_getLogs` from a persisted cursor: records the disputes
 * this validator opened and the committees it was drawn onto, and the outcome of those disputes.
 * New rows and the cursor are written in one transaction, so a restart resumes where it stopped.
 */

import type { DatabaseSync } from "node:sqlite";
import { type ChainClients, inTransaction } from "@verity/chain";
import { disputesAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import type { ValidatorEvent } from "./challenger.ts";
import { windowsFrom } from "./committee-draw.ts";
import { outcomeOf } from "./dispute-resolution.ts";
import type { DisputeStore, NewDispute } from "./dispute-store.ts";
import type { ValidatorMetrics } from "./metrics.ts";

const CURSOR = "disputes_cursor";

export function createDisputeWatcher(options: {
  db: DatabaseSync;
  store: DisputeStore;
  clients: ChainClients;
  deployment: Deployment;
  windows: () => Promise<{ commitWindow: number; revealWindow: number }>;
  /** Blocks per `eth_getLogs` request (default 2,000). */
  chunk?: number;
  metrics?: ValidatorMetrics;
  onEvent?: (event: ValidatorEvent) => void;
}) {
  const { clients, deployment, store } = options;
  const address = deployment.contracts.Disputes.address;
  const me = clients.account.address.toLowerCase();

  function cursor(): bigint {
    const saved = store.meta(CURSOR);
    return saved === undefined ? BigInt(deployment.contracts.Disputes.block) - 1n : BigInt(saved);
  }

  async function syncRange(from: bigint, to: bigint): Promise<void> {
    const logs = await clients.publicClient.getContractEvents({
      address,
      abi: disputesAbi,
      fromBlock: from,
      toBlock: to,
    });
    const windows = await options.windows();
    const opened = new Map<
      bigint,
      {
        agentId: bigint;
        challenger: string;
        receiptHash: `0x${string}`;
        evidenceHash: `0x${string}`;
        evidenceURI: string;
      }
    >();
    const added: NewDispute[] = [];
    const redrawn: { disputeId: string; drawnAt: number }[] = [];
    const resolved: { disputeId: string; outcome: ReturnType<typeof outcomeOf>; txHash: `0x${string}` }[] = [];
    for (const log of logs) {
      if (log.eventName === "ChallengeOpened") {
        const a = log.args as {
          disputeId: bigint;
          agentId: bigint;
          challenger: `0x${string}`;
          receiptHash: `0x${string}`;
          evidenceHash: `0x${string}`;
          evidenceURI: string;
        };
        opened.set(a.disputeId, a);
        if (a.challenger.toLowerCase() !== me) continue;
        added.push(await newDispute(a.disputeId, "challenger", a, windows));
      } else if (log.eventName === "CommitteeDrawn") {
        const a = log.args as { disputeId: bigint; members: readonly `0x${string}`[] };
        const own = store.get(a.disputeId) ?? added.find((d) => d.disputeId === a.disputeId.toString());
        if (own) {
          // A dispute this validator opened: its vote windows run from the draw.
          const block = await clients.publicClient.getBlock({ blockNumber: log.blockNumber as bigint });
          redrawn.push({ disputeId: a.disputeId.toString(), drawnAt: Number(block.timestamp) });
        }
        if (!a.members.some((m) => m.toLowerCase() === me)) continue;
        const challenge = opened.get(a.disputeId) ?? (await challengeOf(a.disputeId));
        if (!challenge) continue;
        added.push(await newDispute(a.disputeId, "member", challenge, windows));
        options.onEvent?.({ event: "committee_drawn", disputeId: a.disputeId.toString(), txHash: log.transactionHash });
      } else if (log.eventName === "DisputeResolved") {
        const a = log.args as Parameters<typeof outcomeOf>[0] & { disputeId: bigint };
        const known = store.get(a.disputeId) ?? added.find((d) => d.disputeId === a.disputeId.toString());
        if (known)
          resolved.push({
            disputeId: a.disputeId.toString(),
            outcome: outcomeOf(a),
            txHash: log.transactionHash as `0x${string}`,
          });
      }
    }
    const notify: typeof resolved = [];
    inTransaction(options.db, () => {
      for (const d of added) store.add(d, Date.now());
      for (const r of redrawn) store.setWindows(r.disputeId, windowsFrom(r.drawnAt, windows));
      for (const r of resolved) {
        if (store.get(r.disputeId)?.status !== "open") continue;
        store.resolved({ disputeId: r.disputeId, guilty: r.outcome.guilty, outcome: r.outcome });
        notify.push(r);
      }
      store.setMeta(CURSOR, to.toString());
    });
    for (const r of notify) {
      const role = store.get(r.disputeId)?.role;
      if (role) options.metrics?.resolved.inc({ role, verdict: r.outcome.guilty ? "guilty" : "not_guilty" });
      options.onEvent?.({ event: "dispute_resolved", disputeId: r.disputeId, role, ...r.outcome, txHash: r.txHash });
    }
  }

  async function challengeOf(disputeId: bigint) {
    const [event] = await clients.publicClient.getContractEvents({
      address,
      abi: disputesAbi,
      eventName: "ChallengeOpened",
      args: { disputeId },
      fromBlock: BigInt(deployment.contracts.Disputes.block),
      toBlock: "latest",
    });
    return event?.args as
      | {
          agentId: bigint;
          challenger: string;
          receiptHash: `0x${string}`;
          evidenceHash: `0x${string}`;
          evidenceURI: string;
        }
      | undefined;
  }

  async function newDispute(
    disputeId: bigint,
    role: "challenger" | "member",
    challenge: { agentId: bigint; receiptHash: `0x${string}`; evidenceHash: `0x${string}`; evidenceURI: string },
    windows: { commitWindow: number; revealWindow: number },
  ): Promise<NewDispute> {
    const dispute = await clients.publicClient.readContract({
      address,
      abi: disputesAbi,
      functionName: "getDispute",
      args: [disputeId],
    });
    const openedAt = Number(dispute.openedAt);
    // Vote windows run from the committee draw (a later transaction than the challenge).
    const start = Number(dispute.drawnAt) === 0 ? openedAt : Number(dispute.drawnAt);
    return {
      disputeId: disputeId.toString(),
      role,
      agentId: challenge.agentId.toString(),
      receiptHash: challenge.receiptHash,
      evidenceHash: challenge.evidenceHash,
      evidenceUri: challenge.evidenceURI,
      openedAt,
      ...windowsFrom(start, windows),
      ...(role === "challenger" ? { auditId: challenge.receiptHash.toLowerCase() } : {}),
    };
  }

  return {
    /** Processes every block up to the chain head. */
    async syncOnce(): Promise<void> {
      const head = await clients.publicClient.getBlockNumber();
      const chunk = BigInt(options.chunk ?? 2_000);
      for (let from = cursor() + 1n; from <= head; from = cursor() + 1n) {
        const to = from + chunk - 1n < head ? from + chunk - 1n : head;
        await syncRange(from, to);
      }
    },
  };
}

export type DisputeWatcher = ReturnType<typeof createDisputeWatcher>;
