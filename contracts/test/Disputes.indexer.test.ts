/**
 * The indexer's view of disputes: the Disputes and Staking logs of a guilty and a not-guilty flow,
 * stored and projected as the indexer does, fold into the right dispute records and slash rows.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { after, before, test } from "node:test";
import { type Abi, parseEventLogs, type TransactionReceipt } from "viem";
import { applyEvent, disputesFromEvents, type IndexedEvent } from "../../packages/chain/src/indexer-projections.ts";
import { createIndexerSchema } from "../../packages/chain/src/indexer-schema.ts";
import { createTestChain, type TestChain } from "../../packages/chain/src/testing.ts";
import { disputesAbi, stakingAbi } from "../generated/index.ts";
import { disputeScene } from "./disputes-helpers.ts";
import { deployFixture, type Fixture } from "./fixture.ts";

let t: TestChain;
let f: Fixture;
before(async () => {
  t = await createTestChain();
  f = await deployFixture(t);
});
after(() => t.close());

/** Stores the Disputes / Staking logs of `receipts` like the indexer (events table + projections). */
async function index(db: DatabaseSync, receipts: TransactionReceipt[]): Promise<void> {
  const contracts: [string, string, Abi][] = [
    ["Disputes", f.addresses.disputes.toLowerCase(), disputesAbi],
    ["Staking", f.addresses.staking.toLowerCase(), stakingAbi],
  ];
  const insert = db.prepare(
    "INSERT OR IGNORE INTO events (block, log_index, tx_hash, timestamp, contract, name, args) VALUES (?, ?, ?, ?, ?, ?, ?)",
  );
  for (const receipt of receipts) {
    const { timestamp } = await f.publicClient.getBlock({ blockNumber: receipt.blockNumber });
    for (const log of receipt.logs) {
      const match = contracts.find(([, address]) => address === log.address.toLowerCase());
      if (!match) continue;
      const [decoded] = parseEventLogs({ abi: match[2], logs: [log], strict: false });
      if (!decoded || !("eventName" in decoded)) continue;
      const args = JSON.parse(JSON.stringify(decoded.args, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
      const e: IndexedEvent = {
        block: Number(log.blockNumber),
        logIndex: log.logIndex,
        txHash: log.transactionHash,
        timestamp: Number(timestamp),
        contract: match[0],
        name: String(decoded.eventName),
        args,
      };
      insert.run(e.block, e.logIndex, e.txHash, e.timestamp, e.contract, e.name, JSON.stringify(e.args));
      applyEvent(db, e);
    }
  }
}

test("disputesFromEvents folds challenges, committees, votes and verdicts; guilty slashes land in slashes", async () => {
  const s = await disputeScene(t, f, 500_000_000n);
  const receipts: TransactionReceipt[] = [];
  const ids: bigint[] = [];
  for (const guilty of [true, false]) {
    const { disputeId, committee, tx, drawTx } = await s.challenge("client-2");
    ids.push(disputeId);
    receipts.push(tx, drawTx);
    for (const m of committee) receipts.push(await s.commit(disputeId, m, guilty));
    await t.increaseTime(s.p.commitWindow + 1n);
    for (const m of committee) receipts.push(await s.reveal(disputeId, m, guilty));
    await s.toResolvable(disputeId);
    receipts.push(await s.resolve(disputeId));
  }
  const db = new DatabaseSync(":memory:");
  createIndexerSchema(db);
  await index(db, receipts);

  const disputes = disputesFromEvents(db, s.agentId);
  assert.equal(disputes.length, 2);
  const [guilty, innocent] = disputes;
  assert.equal(guilty?.disputeId, ids[0]?.toString());
  assert.equal(guilty?.status, "guilty");
  assert.equal(guilty?.committee.length, 3);
  assert.equal(guilty?.commits.length, 3);
  assert.deepEqual(
    guilty?.reveals.map((r) => r.guilty),
    [true, true, true],
  );
  assert.equal(guilty?.slashed, s.p.slashAmount.toString());
  assert.equal(guilty?.challenger, s.address("client-2").toLowerCase());
  assert.equal(innocent?.status, "notGuilty");
  assert.equal(innocent?.bondRecipient, s.address("provider-1").toLowerCase());
  assert.deepEqual(disputesFromEvents(db, 999n), []);

  const slashes = db.prepare("SELECT agent_id, amount, tx_hash FROM slashes").all() as Record<string, string>[];
  assert.equal(slashes.length, 1);
  assert.equal(slashes[0]?.agent_id, s.agentId.toString());
  assert.equal(slashes[0]?.amount, s.p.slashAmount.toString());
  assert.equal(slashes[0]?.tx_hash, guilty?.resolvedTxHash);
  const stake = db.prepare("SELECT paused FROM stakes WHERE agent_id = ?").get(s.agentId.toString()) as {
    paused: number;
  };
  assert.equal(stake.paused, 1);
});
