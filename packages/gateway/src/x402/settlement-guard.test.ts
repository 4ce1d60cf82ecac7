import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openDatabase } from "@verity/chain";
import { type AuthorizationKey, createSettlementGuard } from "./settlement-guard.ts";

const key: AuthorizationKey = {
  network: "eip155:31337",
  token: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  payer: "0xBcd4042DE499D14e55001CcbB24a551F3b954096",
  nonce: `0x${"ab".repeat(32)}`,
};

test("an authorization is reserved once; an unsubmitted one can be released, a settled one stays used", () => {
  const guard = createSettlementGuard();
  assert.equal(guard.reserve(key, 5n), true);
  assert.equal(guard.isLive(key), true);
  assert.equal(
    guard.reserve({ ...key, payer: key.payer.toLowerCase(), nonce: key.nonce.toUpperCase().replace("0X", "0x") }, 5n),
    false,
    "case-insensitive",
  );
  assert.equal(
    guard.reserve({ ...key, token: "0x0000000000000000000000000000000000000001" }, 5n),
    true,
    "nonces are per token",
  );
  guard.release(key);
  assert.equal(guard.get(key), undefined, "released: the nonce is still unused on chain");
  assert.equal(guard.reserve(key, 5n), true);
  assert.equal(guard.beginSettlement(key), true);
  assert.equal(guard.beginSettlement(key), false, "submitted once");
  guard.settled(key, "0x01");
  guard.release(key);
  assert.deepEqual(guard.get(key), { state: "settled", amount: 5n, txHash: "0x01" });
  assert.equal(guard.isLive(key), false);
  assert.equal(guard.reserve(key, 5n), false);
});

test("a settlement in doubt is never released or resubmitted", () => {
  const guard = createSettlementGuard();
  guard.reserve(key, 5n);
  guard.beginSettlement(key);
  guard.pending(key, "0x02");
  guard.release(key);
  assert.equal(guard.get(key)?.state, "pending");
  assert.equal(guard.beginSettlement(key), false);
  assert.equal(guard.reserve(key, 5n), false);
});

test("with SQLite on disk, a reservation survives the process: a new guard on the file refuses it", () => {
  const file = join(mkdtempSync(join(tmpdir(), "verity-x402-guard-")), "gateway.sqlite");
  const first = openDatabase(file);
  assert.equal(createSettlementGuard(first).reserve(key, 7n), true);
  // no close, no release: what a kill -9 right after verify leaves behind
  const second = openDatabase(file);
  const guard = createSettlementGuard(second);
  assert.deepEqual(guard.get(key), { state: "reserved", amount: 7n });
  assert.equal(guard.isLive(key), false, "no request of this process holds it");
  assert.equal(guard.reserve(key, 7n), false);
  first.close();
  second.close();
});
