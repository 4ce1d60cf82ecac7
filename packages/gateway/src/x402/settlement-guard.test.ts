import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { test } from "node:test";
import { createSettlementGuard } from "./settlement-guard.ts";

const payer = "0xBcd4042DE499D14e55001CcbB24a551F3b954096";
const nonce = `0x${"ab".repeat(32)}`;

test("a payment can be claimed once; a failed settlement releases it, a settled one stays used", () => {
  const guard = createSettlementGuard();
  assert.equal(guard.isUsed(payer, nonce), false);
  assert.equal(guard.claim(payer, nonce), true);
  assert.equal(guard.isUsed(payer, nonce), true, "in flight counts as used");
  assert.equal(guard.claim(payer.toLowerCase(), nonce.toUpperCase().replace("0X", "0x")), false, "case-insensitive");
  guard.release(payer, nonce);
  assert.equal(guard.claim(payer, nonce), true, "released: the nonce is still unused on chain");
  guard.settled({ payer, nonce, txHash: "0x01", amount: 5n });
  assert.equal(guard.claim(payer, nonce), false);
  assert.deepEqual(guard.get(payer, nonce), { payer, nonce, txHash: "0x01", amount: 5n });
});

test("with SQLite, settled payments are remembered by a new guard on the same database", () => {
  const db = new DatabaseSync(":memory:");
  const first = createSettlementGuard(db);
  assert.equal(first.claim(payer, nonce), true);
  first.settled({ payer, nonce, txHash: "0x02", amount: 7n });
  const second = createSettlementGuard(db);
  assert.equal(second.isUsed(payer, nonce), true);
  assert.equal(second.claim(payer, nonce), false);
  assert.equal(second.get(payer, nonce)?.amount, 7n);
  db.close();
});
