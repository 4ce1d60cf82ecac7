import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { BaseError } from "@verity/core";
import { createPrepaidLedger } from "./prepaid-ledger.ts";
import type { GatewayStore } from "./store/index.ts";
import { openTestStore } from "./store/store-testing.ts";

const alice = "0x00000000000000000000000000000000000000a1";
const scratch = mkdtempSync(join(tmpdir(), "verity-ledger-test-"));
const stores: GatewayStore[] = [];
after(async () => {
  for (const store of stores) await store.close();
  rmSync(scratch, { recursive: true, force: true });
});
let n = 0;
async function freshStore(): Promise<GatewayStore> {
  const store = await openTestStore({ stateDir: join(scratch, `s${++n}`) });
  stores.push(store);
  return store;
}

test("deposits credit once; holds settle to the actual charge and release the rest", async () => {
  const ledger = createPrepaidLedger({ store: await freshStore() });
  assert.equal(await ledger.credit({ owner: alice, amount: 1_000n, ref: "0xabc:1" }), true);
  assert.equal(await ledger.credit({ owner: alice, amount: 1_000n, ref: "0xabc:1" }), false, "same transfer twice");
  const hold = await ledger.hold(alice, 600n);
  assert.equal(await ledger.balanceOf(alice), 400n);
  await assert.rejects(ledger.hold(alice, 500n), (e: BaseError) => e.code === "insufficient_balance");
  await ledger.settle(hold, 250n, "req-1");
  assert.equal(await ledger.balanceOf(alice), 750n);
  const failed = await ledger.hold(alice, 700n);
  await ledger.release(failed);
  await ledger.release(failed);
  assert.equal(await ledger.balanceOf(alice), 750n, "a failed request charges nothing, released once");
});

test("abandoned holds: a restart releases its own and expired ones, never another live replica's", async () => {
  const store = await freshStore();
  let clock = 1_000_000;
  const now = () => clock;
  const a = createPrepaidLedger({ store, replicaId: "a", holdTimeoutMs: 60_000, now });
  const b = createPrepaidLedger({ store, replicaId: "b", holdTimeoutMs: 60_000, now });
  await a.credit({ owner: alice, amount: 100n, ref: "d" });
  await a.hold(alice, 30n);
  const live = await b.hold(alice, 50n);
  assert.equal(await a.balanceOf(alice), 20n);
  // Replica a restarts under the same id: its hold goes back, b's stays.
  const restarted = createPrepaidLedger({ store, replicaId: "a", holdTimeoutMs: 60_000, now });
  assert.equal(await restarted.releaseAbandonedHolds(), 1);
  assert.equal(await restarted.balanceOf(alice), 50n);
  // Another replica starts: b's recent hold is left alone; b settles it normally.
  const c = createPrepaidLedger({ store, replicaId: "c", holdTimeoutMs: 60_000, now });
  assert.equal(await c.releaseAbandonedHolds(), 0);
  await b.settle(live, 40n, "req-b");
  assert.equal(await c.balanceOf(alice), 60n);
  // The periodic sweep of a running replica leaves its own recent holds alone.
  const own = await c.hold(alice, 5n);
  assert.equal(await c.releaseAbandonedHolds({ expiredOnly: true }), 0);
  await c.release(own);
  // A hold older than the timeout is taken for abandoned by any replica.
  await b.hold(alice, 10n);
  clock += 60_001;
  assert.equal(await c.releaseAbandonedHolds({ expiredOnly: true }), 1);
  assert.equal(await c.balanceOf(alice), 60n);
  // The embedded database (one process): every hold is released.
  await b.hold(alice, 60n);
  assert.equal(await c.releaseAbandonedHolds({ all: true }), 1);
  assert.equal(await c.balanceOf(alice), 60n);
});

test("a hold taken for abandoned and settled after all is charged once from the balance", async () => {
  const store = await freshStore();
  const ledger = createPrepaidLedger({ store });
  await ledger.credit({ owner: alice, amount: 100n, ref: "d" });
  const hold = await ledger.hold(alice, 80n);
  await ledger.releaseAbandonedHolds({ all: true });
  await ledger.settle(hold, 30n, "req-late");
  assert.equal(await ledger.balanceOf(alice), 70n);
  const total = (await ledger.entries(alice)).reduce((sum, e) => sum + e.delta, 0n);
  assert.equal(total, 70n, "ledger and balance agree");
});

test("concurrent holds on one balance never overdraw it", async () => {
  const ledger = createPrepaidLedger({ store: await freshStore() });
  await ledger.credit({ owner: alice, amount: 10n, ref: "d" });
  const outcomes = await Promise.allSettled(Array.from({ length: 25 }, () => ledger.hold(alice, 1n)));
  assert.equal(outcomes.filter((o) => o.status === "fulfilled").length, 10);
  assert.equal(await ledger.balanceOf(alice), 0n);
});

test("uncredit takes a deposit back once, keeps both entries, lets the ref be credited again, and a spent credit blocks holds", async () => {
  const ledger = createPrepaidLedger({ store: await freshStore() });
  await ledger.credit({ owner: alice, amount: 1_000n, ref: "0xabc:1" });
  await ledger.settle(await ledger.hold(alice, 800n), 800n, "req-1");
  assert.equal(await ledger.uncredit({ ref: "0xabc:1" }), true);
  assert.equal(await ledger.uncredit({ ref: "0xabc:1" }), false, "nothing left to take back");
  assert.equal(await ledger.uncredit({ ref: "0xnever:0" }), false);
  assert.equal(await ledger.balanceOf(alice), -800n, "the spent part is owed");
  await assert.rejects(ledger.hold(alice, 1n), (e: BaseError) => e.code === "insufficient_balance");
  assert.deepEqual(
    (await ledger.entries(alice)).map((e) => [e.reason, e.delta]),
    [
      ["deposit_reverted", -1_000n],
      ["request", -800n],
      ["deposit", 1_000n],
    ],
  );
  assert.equal(await ledger.credit({ owner: alice, amount: 1_000n, ref: "0xabc:1" }), true, "the deposit reappeared");
  assert.equal(await ledger.balanceOf(alice), 200n);
});

test("a request is charged once: a second settle under its ref changes nothing; a negative charge is zero", async () => {
  const ledger = createPrepaidLedger({ store: await freshStore() });
  await ledger.credit({ owner: alice, amount: 1_000n, ref: "d" });
  const hold = await ledger.hold(alice, 600n);
  await ledger.settle(hold, 100n, "r1");
  await ledger.settle(hold, 100n, "r1");
  await ledger.release(hold);
  assert.equal(await ledger.balanceOf(alice), 900n);
  const negative = await ledger.hold(alice, 100n);
  await ledger.settle(negative, -50n, "r3");
  assert.equal(await ledger.balanceOf(alice), 900n, "a negative charge is charged as zero, never credited");
});
