import type { DatabaseSync } from "node:sqlite";
import * as artifacts from "@verity/contracts";
import type { Deployment } from "@verity/core";
import { type Abi, type Log, type PublicClient, parseEventLogs } from "viem";
import { applyEvent, type DisputeProjection, disputesFromEvents, type IndexedEvent } from "./indexer-projections.ts";
import { createIndexerSchema, dropIndexerSchema, INDEXER_SCHEMA_VERSION } from "./indexer-schema.ts";
import { inTransaction, openDatabase } from "./sqlite.ts";

const ABIS: Record<string, Abi> = {
  TestUSD: artifacts.testUSDAbi,
  AgentRegistry: artifacts.agentRegistryAbi,
  DatasetRegistry: artifacts.datasetRegistryAbi,
  ModelRegistry: artifacts.modelRegistryAbi,
  PaymentChannels: artifacts.paymentChannelsAbi,
  ReputationRegistry: artifacts.reputationRegistryAbi,
  ValidationRegistry: artifacts.validationRegistryAbi,
  Staking: artifacts.stakingAbi,
  Disputes: artifacts.disputesAbi,
  InferenceOracle: artifacts.inferenceOracleAbi,
};

/**
 * Token events are too many to keep (every transfer); the indexer follows protocol contracts only.
 * GatewayDeposits events concern one gateway each, which follows them itself (its deposit watcher);
 * the example OracleMarketResolver is an application, not part of the protocol.
 */
const SKIP_CONTRACTS = new Set(["TestUSD", "GatewayDeposits", "OracleMarketResolver"]);

export type IndexerOptions = {
  deployment: Deployment;
  publicClient: PublicClient;
  /** SQLite file (or an open database). */
  db: string | DatabaseSync;
  /** Blocks per `eth_getLogs` request (default 2,000). */
  batchBlocks?: number;
  /** Poll interval when caught up, in ms (default 500). */
  pollMs?: number;
  /** Blocks to stay behind the head, against reorgs (default 0: devnets do not reorg). */
  confirmations?: number;
  /** Called after each committed batch with the events it applied. */
  onEvents?: (events: IndexedEvent[]) => void;
  /** Called when a sync attempt fails; the indexer retries with backoff. */
  onError?: (error: unknown, retryInMs: number) => void;
};

function jsonArgs(args: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(args ?? {}, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
}

/**
 * Follows a deployment from its start block into SQLite: every protocol event is stored and applied
 * to projections (agents, models, offers, stakes, channels, claims, slashes) in the same transaction
 * as the cursor, so a restart resumes exactly after the last indexed block. RPC failures back off
 * exponentially (0.5 s → 30 s) and never stop the loop.
 */
export function createIndexer(options: IndexerOptions) {
  const db = typeof options.db === "string" ? openDatabase(options.db) : options.db;
  const batchBlocks = BigInt(options.batchBlocks ?? 2_000);
  const pollMs = options.pollMs ?? 500;
  const confirmations = BigInt(options.confirmations ?? 0);
  const { deployment, publicClient } = options;
  const byAddress = new Map<string, string>();
  for (const [name, contract] of Object.entries(deployment.contracts)) {
    if (contract && !SKIP_CONTRACTS.has(name)) byAddress.set(contract.address.toLowerCase(), name);
  }
  const addresses = [...byAddress.keys()] as `0x${string}`[];
  const identity = `${deployment.chainId}:${deployment.contracts.PaymentChannels.address.toLowerCase()}:v${INDEXER_SCHEMA_VERSION}`;

  createIndexerSchema(db);
  const stored = db.prepare("SELECT value FROM meta WHERE key = 'identity'").get() as { value: string } | undefined;
  if (stored && stored.value !== identity) {
    dropIndexerSchema(db);
    createIndexerSchema(db);
  }
  db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('identity', ?)").run(identity);

  const listeners = new Set<(events: IndexedEvent[]) => void>();
  if (options.onEvents) listeners.add(options.onEvents);
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let syncing: Promise<number> | undefined;
  let failures = 0;
  /** How far chain time runs ahead of this machine's clock (devnets can jump forward; never behind). */
  let chainAheadMs = 0;

  /** Last block whose events are all applied (start block − 1 before the first sync). */
  function cursor(): bigint {
    const row = db.prepare("SELECT value FROM meta WHERE key = 'cursor'").get() as { value: string } | undefined;
    return row ? BigInt(row.value) : BigInt(deployment.startBlock) - 1n;
  }

  async function syncBatch(): Promise<{ applied: number; caughtUp: boolean }> {
    const latest = await publicClient.getBlock({ blockTag: "latest" });
    const ahead = Number(latest.timestamp) * 1000 - Date.now();
    if (ahead > chainAheadMs) chainAheadMs = ahead;
    const head = latest.number - confirmations;
    const from = cursor() + 1n;
    if (from > head) return { applied: 0, caughtUp: true };
    const to = from + batchBlocks - 1n < head ? from + batchBlocks - 1n : head;
    const logs = await publicClient.getLogs({ address: addresses, fromBlock: from, toBlock: to });
    const timestamps = new Map<bigint, number>();
    for (const log of logs) {
      if (log.blockNumber !== null && !timestamps.has(log.blockNumber)) {
        const block = await publicClient.getBlock({ blockNumber: log.blockNumber });
        timestamps.set(log.blockNumber, Number(block.timestamp));
      }
    }
    const events: IndexedEvent[] = [];
    for (const log of logs as Log[]) {
      const contract = byAddress.get(log.address.toLowerCase());
      const abi = contract ? ABIS[contract] : undefined;
      if (!contract || !abi) continue;
      const [decoded] = parseEventLogs({ abi, logs: [log], strict: false });
      if (!decoded || !("eventName" in decoded) || log.blockNumber === null || log.logIndex === null) continue;
      events.push({
        block: Number(log.blockNumber),
        logIndex: log.logIndex,
        txHash: log.transactionHash ?? "",
        timestamp: timestamps.get(log.blockNumber) ?? 0,
        contract,
        name: String(decoded.eventName),
        args: jsonArgs(decoded.args),
      });
    }
    inTransaction(db, () => {
      const insert = db.prepare(
        "INSERT OR IGNORE INTO events (block, log_index, tx_hash, timestamp, contract, name, args) VALUES (?, ?, ?, ?, ?, ?, ?)",
      );
      for (const e of events) {
        insert.run(e.block, e.logIndex, e.txHash, e.timestamp, e.contract, e.name, JSON.stringify(e.args));
        applyEvent(db, e);
      }
      db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('cursor', ?)").run(to.toString());
    });
    if (events.length > 0) for (const listener of listeners) listener(events);
    return { applied: events.length, caughtUp: to >= head };
  }

  /**
   * Indexes up to the head as seen at (or after) this call and resolves with the events applied.
   * Calls are serialised: one made while a sync is running runs again after it, so a caller never
   * gets an answer from a sync that started before the block it is waiting for.
   */
  function syncOnce(): Promise<number> {
    const previous = syncing ?? Promise.resolve(0);
    const run: Promise<number> = previous
      .catch(() => 0)
      .then(async () => {
        let total = 0;
        for (;;) {
          const { applied, caughtUp } = await syncBatch();
          total += applied;
          if (caughtUp) return total;
        }
      })
      .finally(() => {
        if (syncing === run) syncing = undefined;
      });
    syncing = run;
    return run;
  }

  function schedule(ms: number): void {
    if (!running) return;
    timer = setTimeout(async () => {
      try {
        await syncOnce();
        failures = 0;
        schedule(pollMs);
      } catch (error) {
        failures++;
        const retry = Math.min(30_000, 500 * 2 ** (failures - 1));
        options.onError?.(error, retry);
        schedule(retry);
      }
    }, ms);
  }

  return {
    db,
    cursor,
    syncOnce,
    /** Current chain time in unix seconds, as seen from the latest block (never behind the local clock). */
    chainNow(): number {
      return Math.floor((Date.now() + chainAheadMs) / 1000);
    },
    /** Subscribe to applied events; returns an unsubscribe function. */
    subscribe(listener: (events: IndexedEvent[]) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    start(): void {
      if (running) return;
      running = true;
      schedule(0);
    },
    async stop(): Promise<void> {
      running = false;
      if (timer) clearTimeout(timer);
      await syncing?.catch(() => {});
    },
  };
}

export type Indexer = ReturnType<typeof createIndexer>;
export type { DisputeProjection, IndexedEvent };
export { disputesFromEvents };
