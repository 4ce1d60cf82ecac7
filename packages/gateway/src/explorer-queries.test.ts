/**
 * The explorer's folds over stored events (reputation, audits, validators), on the indexer's own
 * schema in SQLite. Event rows carry the args the indexer stores for each contract event.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { test } from "node:test";
import { createIndexerSchema } from "../../chain/src/indexer-schema.ts";
import { feedEvents, providerRows, validatorRows } from "./explorer-queries.ts";

function db(events: [string, string, Record<string, unknown>][]): DatabaseSync {
  const d = new DatabaseSync(":memory:");
  createIndexerSchema(d);
  d.exec("INSERT INTO agents (agent_id, owner, uri, registered_block) VALUES ('7', '0xowner', 'http://p', 1)");
  d.exec("INSERT INTO stakes (agent_id, bonded) VALUES ('7', '500000000')");
  const insert = d.prepare(
    "INSERT INTO events (block, log_index, tx_hash, timestamp, contract, name, args) VALUES (?, ?, ?, ?, ?, ?, ?)",
  );
  for (const [i, [contract, name, args]] of events.entries()) {
    insert.run(10 + i, 0, `0x${String(i).padStart(64, "0")}`, 1_000 + i, contract, name, JSON.stringify(args));
  }
  return d;
}

const client = "0x00000000000000000000000000000000000000c1";
const v1 = "0x00000000000000000000000000000000000000a1";
const v2 = "0x00000000000000000000000000000000000000a2";

test("reputation averages unrevoked feedback; audits count validations and verdicts but not the verdict's own record", () => {
  const d = db([
    [
      "ReputationRegistry",
      "NewFeedback",
      { agentId: "7", clientAddress: client, feedbackIndex: "1", value: "90", valueDecimals: 0 },
    ],
    [
      "ReputationRegistry",
      "NewFeedback",
      { agentId: "7", clientAddress: client, feedbackIndex: "2", value: "700", valueDecimals: 1 },
    ],
    [
      "ReputationRegistry",
      "NewFeedback",
      { agentId: "7", clientAddress: client, feedbackIndex: "3", value: "-5", valueDecimals: 0 },
    ],
    [
      "ReputationRegistry",
      "FeedbackRevoked",
      { agentId: "7", clientAddress: client.toUpperCase(), feedbackIndex: "3" },
    ],
    ["ValidationRegistry", "ValidationResponse", { agentId: "7", requestHash: "0x01", response: 30, tag: "audit" }],
    ["ValidationRegistry", "ValidationResponse", { agentId: "7", requestHash: "0x01", response: 100, tag: "audit" }],
    ["ValidationRegistry", "ValidationResponse", { agentId: "7", requestHash: "0x02", response: 10, tag: "audit" }],
    [
      "ValidationRegistry",
      "ValidationResponse",
      { agentId: "7", requestHash: "0x03", response: 0, tag: "verity-dispute" },
    ],
  ]);
  const disputes = [
    { agentId: "7", status: "guilty" },
    { agentId: "7", status: "notGuilty" },
    { agentId: "7", status: "open" },
    { agentId: "8", status: "guilty" },
  ] as Parameters<typeof providerRows>[1];
  const [p] = providerRows(d, disputes);
  assert.deepEqual(p?.reputation, { count: 2, average: 80 });
  assert.deepEqual(p?.audits, { passed: 2, failed: 2 }, "0x01 counts once, as its latest answer (passed)");
  assert.deepEqual(p?.disputes, { open: 1, guilty: 1, notGuilty: 1 });
});

test("validators fold bonds with rewards and penalties; the feed filters by agent and transaction", () => {
  const d = db([
    ["Disputes", "ValidatorRegistered", { validator: v1, agentId: "11", bond: "50000000" }],
    ["Disputes", "ValidatorRegistered", { validator: v2, agentId: "12", bond: "50000000" }],
    ["Disputes", "VoteRevealed", { disputeId: "1", voter: v1, guilty: true }],
    ["Disputes", "VoterRewarded", { disputeId: "1", voter: v1, amount: "5000000" }],
    ["Disputes", "VoterPenalized", { disputeId: "1", voter: v2, amount: "5000000" }],
    ["Disputes", "ValidatorDeregistered", { validator: v2, agentId: "12", bond: "45000000" }],
    ["Staking", "Staked", { agentId: "7", amount: "1", bonded: "1" }],
    ["PaymentChannels", "Claimed", { receiverAgentId: "7", increase: "5" }],
  ]);
  assert.deepEqual(
    validatorRows(d).map((v) => [v.validator, v.bond, v.active, v.votes, v.rewarded, v.penalized]),
    [
      [v1, "55000000", true, 1, "5000000", "0"],
      [v2, "0", false, 0, "0", "5000000"],
    ],
  );
  assert.deepEqual(
    feedEvents(d, { limit: 10, agentId: "7" }).map((e) => e.name),
    ["Claimed", "Staked"],
  );
  assert.deepEqual(
    feedEvents(d, { limit: 10, names: ["VoteRevealed", "Staked"] }).map((e) => e.name),
    ["Staked", "VoteRevealed"],
  );
  const tx = `0x${"2".padStart(64, "0")}`;
  assert.deepEqual(
    feedEvents(d, { limit: 10, txHash: tx }).map((e) => e.name),
    ["VoteRevealed"],
  );
});
