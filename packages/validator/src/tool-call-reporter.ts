/**
 * Publishes this validator's tool-call score of each provider as ERC-8004 feedback
 * (`ReputationRegistry.giveFeedback`, tag1 `tool_calls`), where the gateway's router reads it.
 *
 * On each tick, a provider is reported when at least `minNewCalls` tool calls were scored since its
 * last report and its last report is at least `minIntervalMs` old. The registry takes feedback only
 * from accounts that paid the agent: the reporter first checks `hasPaid`, and when it is not set yet
 * shows a channel this validator pays to the agent with a claimed total above zero (`provePayment`;
 * the canary's channels are such channels). Without one the report is skipped with
 * `tool_call_feedback_unpaid` and tried again on a later tick; the counts stay.
 *
 * What was reported is kept in the validator's database. A report is written as `pending` with the
 * registry's feedback index before it is sent, and moved to the reported table after its receipt; a restart that
 * finds a pending report reads the index on chain, so a feedback that landed is not sent twice and
 * one that did not is sent again.
 */
import type { DatabaseSync } from "node:sqlite";
import { type ChainClients, configOfOpenedLog, inTransaction } from "@verity/chain";
import { paymentChannelsAbi, reputationRegistryAbi } from "@verity/contracts";
import { BaseError, type Deployment } from "@verity/core";
import type { ValidatorEvent } from "./challenger.ts";
import type { ProviderEvidence } from "./provider-evidence.ts";
import { toolCallFeedback } from "./tool-call-feedback.ts";
import type { TxSender } from "./tx-sender.ts";

/** Defaults: at least 20 newly scored tool calls, at most one report per provider per hour. */
export const DEFAULT_TOOL_CALL_REPORTING = { minNewCalls: 20, minIntervalMs: 3_600_000 } as const;

export type ToolCallReportRow = {
  agentId: string;
  /** Cumulative scored calls and valid calls the report stated. */
  calls: number;
  valid: number;
  value: string;
  /** The registry's last feedback index of this validator for the agent before the report was sent. */
  indexBefore: string;
  at: number;
  txHash: string | null;
};

type Row = Record<string, string | number | null>;

/** `tool_call_reports`: the last report that landed, per provider; `tool_call_pending`: one being sent. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS tool_call_reports (
  agent_id TEXT PRIMARY KEY,
  calls INTEGER NOT NULL,
  valid INTEGER NOT NULL,
  value TEXT NOT NULL,
  index_before TEXT NOT NULL,
  at INTEGER NOT NULL,
  tx_hash TEXT
);
CREATE TABLE IF NOT EXISTS tool_call_pending (
  agent_id TEXT PRIMARY KEY,
  calls INTEGER NOT NULL,
  valid INTEGER NOT NULL,
  value TEXT NOT NULL,
  index_before TEXT NOT NULL,
  at INTEGER NOT NULL,
  tx_hash TEXT
);
`;

function toReport(r: Row): ToolCallReportRow {
  return {
    agentId: r.agent_id as string,
    calls: r.calls as number,
    valid: r.valid as number,
    value: r.value as string,
    indexBefore: r.index_before as string,
    at: r.at as number,
    txHash: (r.tx_hash as string | null) ?? null,
  };
}

export function createToolCallReporter(options: {
  db: DatabaseSync;
  evidence: ProviderEvidence;
  clients: ChainClients;
  deployment: Deployment;
  sender: TxSender;
  publicUrl: () => string;
  /** Newly scored tool calls a provider needs before it is reported again (default 20). */
  minNewCalls?: number;
  /** Least time between two reports about one provider, ms (default one hour). */
  minIntervalMs?: number;
  /** Least time before a provider skipped as unpaid is checked again, ms (default one minute). */
  unpaidRetryMs?: number;
  now?: () => number;
  onEvent?: (event: ValidatorEvent) => void;
}) {
  const { db, clients, deployment } = options;
  db.exec(SCHEMA);
  const minNewCalls = options.minNewCalls ?? DEFAULT_TOOL_CALL_REPORTING.minNewCalls;
  const minIntervalMs = options.minIntervalMs ?? DEFAULT_TOOL_CALL_REPORTING.minIntervalMs;
  const now = options.now ?? Date.now;
  const registry = deployment.contracts.ReputationRegistry.address;
  const channels = deployment.contracts.PaymentChannels.address;
  const me = clients.account.address;
  const read = clients.publicClient.readContract;
  const unpaidRetryMs = options.unpaidRetryMs ?? 60_000;
  /**
   * When a provider skipped (unpaid: after `unpaidRetryMs`; a refused report: after `minIntervalMs`)
   * is looked at again (in memory: a restart checks at once).
   */
  const skippedUntil = new Map<string, number>();
  let running: Promise<void> | undefined;

  const rowOf = (table: "tool_call_reports" | "tool_call_pending", agentId: string) => {
    const row = db.prepare(`SELECT * FROM ${table} WHERE agent_id = ?`).get(agentId) as Row | undefined;
    return row ? toReport(row) : undefined;
  };

  const lastIndex = (agentId: bigint) =>
    read({ address: registry, abi: reputationRegistryAbi, functionName: "getLastIndex", args: [agentId, me] });

  /** Whether the registry takes this validator's feedback about `agentId`, proving a payment first when needed. */
  async function eligible(agentId: bigint): Promise<boolean> {
    const paid = await read({
      address: registry,
      abi: reputationRegistryAbi,
      functionName: "hasPaid",
      args: [agentId, me],
    });
    if (paid) return true;
    const logs = await clients.publicClient.getContractEvents({
      address: channels,
      abi: paymentChannelsAbi,
      eventName: "ChannelOpened",
      args: { payer: me, receiverAgentId: agentId },
      fromBlock: BigInt(deployment.startBlock),
      toBlock: "latest",
    });
    for (const log of logs) {
      const config = configOfOpenedLog(log.args as Parameters<typeof configOfOpenedLog>[0]);
      if (!config) continue;
      const [, payer, , claimed] = await read({
        address: channels,
        abi: paymentChannelsAbi,
        functionName: "paymentOf",
        args: [config],
      });
      if (payer.toLowerCase() !== me.toLowerCase() || claimed === 0n) continue;
      await options.sender.send(`Showing a payment to agent ${agentId}`, {
        address: registry,
        abi: reputationRegistryAbi,
        functionName: "provePayment",
        args: [config],
      });
      return true;
    }
    return false;
  }

  /** Moves a report that landed from pending to reported (same transaction). */
  function landed(agentId: string, txHash: string | null): void {
    inTransaction(db, () => {
      db.prepare(
        `INSERT OR REPLACE INTO tool_call_reports (agent_id, calls, valid, value, index_before, at, tx_hash)
         SELECT agent_id, calls, valid, value, index_before, at, COALESCE(?, tx_hash) FROM tool_call_pending WHERE agent_id = ?`,
      ).run(txHash, agentId);
      db.prepare("DELETE FROM tool_call_pending WHERE agent_id = ?").run(agentId);
    });
  }

  /** A pending report (a send cut short): landed if the registry's index moved past it, else dropped. */
  async function settlePending(agentId: string): Promise<void> {
    const pending = rowOf("tool_call_pending", agentId);
    if (!pending) return;
    if ((await lastIndex(BigInt(agentId))) > BigInt(pending.indexBefore)) landed(agentId, null);
    else db.prepare("DELETE FROM tool_call_pending WHERE agent_id = ?").run(agentId);
  }

  async function reportOne(agentId: string): Promise<void> {
    await settlePending(agentId);
    const last = rowOf("tool_call_reports", agentId);
    const tally = options.evidence.toolCalls(agentId);
    if (tally.calls - (last?.calls ?? 0) < minNewCalls) return;
    if (last && now() - last.at < minIntervalMs) return;
    if ((skippedUntil.get(agentId) ?? 0) > now()) return;
    const id = BigInt(agentId);
    if (!(await eligible(id))) {
      skippedUntil.set(agentId, now() + unpaidRetryMs);
      options.onEvent?.({
        event: "tool_call_feedback_skipped",
        agentId,
        reason: "tool_call_feedback_unpaid",
        calls: tally.calls,
      });
      return;
    }
    const feedback = toolCallFeedback({
      agentId,
      calls: tally.calls,
      valid: tally.valid,
      publicUrl: options.publicUrl(),
    });
    if (!feedback) return;
    skippedUntil.delete(agentId);
    const before = await lastIndex(id);
    db.prepare(
      `INSERT OR REPLACE INTO tool_call_pending (agent_id, calls, valid, value, index_before, at, tx_hash)
       VALUES (?, ?, ?, ?, ?, ?, NULL)`,
    ).run(agentId, tally.calls, tally.valid, feedback.value.toString(), before.toString(), now());
    let txHash: string;
    try {
      const receipt = await options.sender.send(`Reporting the tool-call score of agent ${agentId}`, {
        address: registry,
        abi: reputationRegistryAbi,
        functionName: "giveFeedback",
        args: [
          feedback.agentId,
          feedback.value,
          feedback.valueDecimals,
          feedback.tag1,
          feedback.tag2,
          feedback.endpoint,
          feedback.feedbackURI,
          `0x${"00".repeat(32)}`,
        ],
      });
      txHash = receipt.transactionHash;
    } catch (error) {
      // A revert (e.g. the validator controls the agent): nothing landed, so the pending row goes.
      // Anything else (RPC trouble) leaves it pending, settled against the chain on the next tick.
      if (!(error instanceof BaseError)) throw error;
      await settlePending(agentId);
      skippedUntil.set(agentId, now() + minIntervalMs);
      options.onEvent?.({ event: "tool_call_feedback_skipped", agentId, reason: error.code, calls: tally.calls });
      return;
    }
    landed(agentId, txHash);
    options.onEvent?.({
      event: "tool_call_feedback",
      agentId,
      value: feedback.value.toString(),
      calls: tally.calls,
      txHash,
    });
  }

  async function tickOnce(): Promise<void> {
    for (const agentId of options.evidence.agents()) await reportOne(agentId);
  }

  return {
    /** Reports every provider that is due (serialised: a call made during a tick waits for it). */
    tick(): Promise<void> {
      const previous = running ?? Promise.resolve();
      const run = previous.catch(() => {}).then(tickOnce);
      running = run.finally(() => {
        if (running === run) running = undefined;
      });
      return run;
    },
    /** The last report about `agentId` that landed on chain. */
    report: (agentId: string) => rowOf("tool_call_reports", agentId),
    /** A report about `agentId` being sent (or cut short by a crash, settled on the next tick). */
    pending: (agentId: string) => rowOf("tool_call_pending", agentId),
  };
}

export type ToolCallReporter = ReturnType<typeof createToolCallReporter>;
