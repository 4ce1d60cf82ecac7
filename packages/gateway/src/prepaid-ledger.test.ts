import assert from "node:assert/strict";
import { test } from "node:test";
import { openDatabase } from "@verity/chain";
import type { BaseError } from "@verity/core";
import { createPrepaidLedger } from "./prepaid-ledger.ts";

const alice = "0x00000000000000000000000000000000000000a1";

test("deposits credit once; holds settle to the actual charge and release the rest", () => {
  const ledger = createPrepaidLedger({ db: openDatabase(":memory:") });
  assert.equal(ledger.credit({ owner: alice, amount: 1_000n, ref: "0xabc:1" }), true);
  assert.equal(ledger.credit({ owner: alice, amount: 1_000n, ref: "0xabc:1" }), false, "same transfer twice");
  const hold = ledger.hold(alice, 600n);
  assert.equal(ledger.balanceOf(alice), 400n);
  assert.throws(
    () => ledger.hold(alice, 500n),
    (e: BaseError) => e.code === "insufficient_balance",
  );
  ledger.settle(hold, 250n, "req-1");
  assert.equal(ledger.balanceOf(alice), 750n);
  const failed = ledger.hold(alice, 700n);
  ledger.release(failed);
  ledger.release(failed);
  assert.equal(ledger.balanceOf(alice), 750n, "a failed request charges nothing, released once");
});

test("holds left by a crash are released on restart", () => {
  const db = openDatabase(":memory:");
  const ledger = createPrepaidLedger({ db });
  ledger.credit({ owner: alice, amount: 100n, ref: "d" });
  ledger.hold(alice, 80n);
  assert.equal(ledger.balanceOf(alice), 20n);
  const restarted = createPrepaidLedger({ db });
  assert.equal(restarted.balanceOf(alice), 100n);
});

test("uncredit takes a deposit back once, keeps both entries, lets the ref be credited again, and a spent credit blocks holds", () => {
  const ledger = createPrepaidLedger({ db: openDatabase(":memory:") });
  ledger.credit({ owner: alice, amount: 1_000n, ref: "0xabc:1" });
  ledger.settle(ledger.hold(alice, 800n), 800n, "req-1");
  assert.equal(ledger.uncredit({ ref: "0xabc:1" }), true);
  assert.equal(ledger.uncredit({ ref: "0xabc:1" }), false, "nothing left to take back");
  assert.equal(ledger.uncredit({ ref: "0xnever:0" }), false);
  assert.equal(ledger.balanceOf(alice), -800n, "the spent part is owed");
  assert.throws(
    () => ledger.hold(alice, 1n),
    (e: BaseError) => e.code === "insufficient_balance",
  );
  assert.deepEqual(
    ledger.entries(alice).map((e) => [e.reason, e.delta]),
    [
      ["deposit_reverted", -1_000n],
      ["request", -800n],
      ["deposit", 1_000n],
    ],
  );
  assert.equal(ledger.credit({ owner: alice, amount: 1_000n, ref: "0xabc:1" }), true, "the deposit reappeared");
  assert.equal(ledger.balanceOf(alice), 200n);
});

test("a hold settles or releases once: a second settle, or a settle after release, changes nothing", () => {
  const ledger = createPrepaidLedger({ db: openDatabase(":memory:") });
  ledger.credit({ owner: alice, amount: 1_000n, ref: "d" });
  const hold = ledger.hold(alice, 600n);
  ledger.settle(hold, 100n, "r1");
  ledger.settle(hold, 0n, "r1-again");
  ledger.release(hold);
  assert.equal(ledger.balanceOf(alice), 900n);
  const other = ledger.hold(alice, 500n);
  ledger.release(other);
  ledger.settle(other, 0n, "r2");
  assert.equal(ledger.balanceOf(alice), 900n);
  const negative = ledger.hold(alice, 100n);
  ledger.settle(negative, -50n, "r3");
  assert.equal(ledger.balanceOf(alice), 900n, "a negative charge is charged as zero, never credited");
});
