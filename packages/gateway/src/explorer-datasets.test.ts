import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { test } from "node:test";
import { createIndexerSchema } from "../../chain/src/indexer-schema.ts";
import { datasetRows } from "./explorer-datasets.ts";

const alice = "0x00000000000000000000000000000000000000a1";
const bob = "0x00000000000000000000000000000000000000b2";

function db(events: [string, string, Record<string, unknown>][]): DatabaseSync {
  const d = new DatabaseSync(":memory:");
  createIndexerSchema(d);
  const insert = d.prepare(
    "INSERT INTO events (block, log_index, tx_hash, timestamp, contract, name, args) VALUES (?, ?, ?, ?, ?, ?, ?)",
  );
  for (const [i, [contract, name, args]] of events.entries()) {
    insert.run(10 + i, 0, `0x${String(i).padStart(64, "0")}`, 1_000 + i, contract, name, JSON.stringify(args));
  }
  return d;
}

const registered = (datasetId: string, owner: string) =>
  [
    "DatasetRegistry",
    "DatasetRegistered",
    { datasetId, owner, digest: `0x${datasetId}`, minShareBps: 0, pricePerUse: "5", licenceURI: "l", uri: "u" },
  ] as [string, string, Record<string, unknown>];

test("datasets fold registrations, transfers, credits and royalty payments per dataset and payee", () => {
  const rows = datasetRows(
    db([
      registered("2", bob),
      registered("1", alice),
      ["ModelRegistry", "DatasetCredited", { modelId: "3", datasetId: "1", shareBps: 1000, totalShareBps: 1000 }],
      ["PaymentChannels", "DatasetRoyaltyPaid", { datasetId: "1", modelId: "3", to: alice, amount: "40" }],
      ["ModelRegistry", "DatasetCredited", { modelId: "3", datasetId: "1", shareBps: 2500, totalShareBps: 2500 }],
      ["PaymentChannels", "DatasetRoyaltyPaid", { datasetId: "1", modelId: "3", to: alice, amount: "100" }],
      ["DatasetRegistry", "DatasetTransferred", { datasetId: "1", previousOwner: alice, newOwner: bob }],
      ["PaymentChannels", "DatasetRoyaltyPaid", { datasetId: "1", modelId: "3", to: bob, amount: "7" }],
      ["PaymentChannels", "DatasetRoyaltyPaid", { datasetId: "9", modelId: "3", to: bob, amount: "1" }],
    ]),
  );
  assert.deepEqual(
    rows.map((r) => r.datasetId),
    ["1", "2"],
  );
  const [first, second] = rows;
  assert.equal(first?.owner, bob, "the current owner after the transfer");
  assert.deepEqual(first?.credits, [{ modelId: "3", shareBps: 2500 }], "a raised credit shows its new share");
  assert.equal(first?.earned, "147");
  assert.deepEqual(first?.payees, [
    { to: alice, amount: "140", payments: 2 },
    { to: bob, amount: "7", payments: 1 },
  ]);
  assert.deepEqual([second?.earned, second?.payees, second?.pricePerUse], ["0", [], "5"]);
});
