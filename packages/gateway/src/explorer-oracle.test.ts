import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { test } from "node:test";
import { toHex } from "viem";
import { createIndexerSchema } from "../../chain/src/indexer-schema.ts";
import { ANSWER_CHARS, oracleRequests } from "./explorer-oracle.ts";

const alice = "0x00000000000000000000000000000000000000a1";
const probe = "0x00000000000000000000000000000000000000c3";
const zero = "0x0000000000000000000000000000000000000000";

function db(events: [string, Record<string, unknown>][]): DatabaseSync {
  const d = new DatabaseSync(":memory:");
  createIndexerSchema(d);
  const insert = d.prepare(
    "INSERT INTO events (block, log_index, tx_hash, timestamp, contract, name, args) VALUES (?, ?, ?, ?, ?, ?, ?)",
  );
  for (const [i, [name, args]] of events.entries()) {
    insert.run(10 + i, 0, `0x${String(i).padStart(64, "0")}`, 1_000 + i, "InferenceOracle", name, JSON.stringify(args));
  }
  return d;
}

const requested = (requestId: string, callback = probe, prompt = toHex("Will it rain?")) =>
  [
    "OracleRequested",
    {
      requestId,
      requester: alice,
      modelId: "1",
      params: {
        modelId: "1",
        offerId: "2",
        prompt,
        promptURI: "",
        maxTokens: 16,
        seed: "7",
        fee: "100",
        callback,
        deadline: 5_000,
      },
      promptHash: "0xaa",
      paramsHash: "0xbb",
    },
  ] as [string, Record<string, unknown>];
const answered = (requestId: string, answer: string) =>
  [
    "OracleAnswered",
    {
      requestId,
      agentId: "3",
      answerer: alice,
      answer: toHex(answer),
      receiptHash: "0xcc",
      promptTokens: 12,
      completionTokens: 4,
      bond: "50",
    },
  ] as [string, Record<string, unknown>];

test("oracle requests fold request → answer → finalize → callback, challenges and refunds, newest first", () => {
  const d = db([
    requested("1"),
    answered("1", "yes, it will"),
    ["OracleFinalized", { requestId: "1", agentId: "3", providerAmount: "90", royaltyAmount: "5", feeAmount: "5" }],
    ["OracleCallback", { requestId: "1", target: probe, success: false }],
    requested("2", zero, "0x"),
    requested("3"),
    answered("3", "x".repeat(ANSWER_CHARS + 5)),
    ["OracleChallenged", { requestId: "3", challenger: alice, bond: "60" }],
    ["OracleChallengeResolved", { requestId: "3", guilty: true }],
    ["OracleRefunded", { requestId: "2", requester: alice, fee: "100" }],
    requested("10"),
    answered("10", "no"),
    ["OracleChallenged", { requestId: "10", challenger: alice, bond: "60" }],
    ["OracleChallengeResolved", { requestId: "10", guilty: false }],
    ["OracleAnswered", { requestId: "99", agentId: "3", answer: "0x" }],
  ]);
  const rows = oracleRequests(d);
  assert.deepEqual(
    rows.map((r) => [r.requestId, r.status]),
    [
      ["10", "answered"],
      ["3", "rejected"],
      ["2", "refunded"],
      ["1", "finalized"],
    ],
    "by id, newest first; an answer to an unknown request is ignored",
  );
  const [dismissed, rejected, refunded, done] = rows;
  assert.equal(done?.answer?.text, "yes, it will");
  assert.equal(done?.answer?.agentId, "3");
  assert.equal(done?.callbackOk, false, "a reverted callback shows as failed");
  assert.deepEqual(done?.payout, { agentId: "3", provider: "90", royalty: "5", protocolFee: "5" });
  assert.deepEqual(
    [done?.timeline.requested.txHash, done?.timeline.answered?.at, done?.timeline.finalized?.block],
    [`0x${"0".padStart(64, "0")}`, 1_001, 12],
  );
  assert.equal(done?.prompt, "Will it rain?");
  assert.deepEqual([refunded?.callbackTarget, refunded?.prompt, refunded?.refunded], [null, null, "100"]);
  assert.equal(refunded?.callbackOk, null);
  assert.equal(rejected?.answer?.text.length, ANSWER_CHARS);
  assert.deepEqual([rejected?.answer?.truncated, rejected?.answer?.bytes], [true, ANSWER_CHARS + 5]);
  assert.equal(rejected?.challenge?.resolution, "guilty");
  assert.equal(dismissed?.challenge?.resolution, "dismissed");
  assert.deepEqual(
    oracleRequests(d, { requestId: "3" }).map((r) => r.status),
    ["rejected"],
  );
  assert.deepEqual(oracleRequests(d, { requestId: "4" }), []);
});
