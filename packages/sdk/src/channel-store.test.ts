import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { auditCommitOf, type Deployment } from "@verity/core";
import { createChannelStore } from "./channel-store.ts";
import { openClientState } from "./client-state.ts";

const deployment = {
  chainId: 31337,
  contracts: { PaymentChannels: { address: "0x00000000000000000000000000000000000000cc", block: 0 } },
} as unknown as Deployment;

function setup(dir = mkdtempSync(join(tmpdir(), "verity-sdk-store-")), orphanGraceMs = 0) {
  const db = openClientState({ stateDir: dir, deployment });
  const store = createChannelStore(db, { orphanGraceMs });
  return { dir, db, store };
}

function openChannel(store: ReturnType<typeof createChannelStore>, deposit: bigint) {
  const id = store.addOpening(
    {
      payer: "0x0000000000000000000000000000000000000001",
      payerAuthorizer: "0x0000000000000000000000000000000000000002",
      receiverAgentId: 1n,
      modelId: 1n,
      token: "0x0000000000000000000000000000000000000003",
      withdrawDelay: 900n,
      salt: `0x${"11".repeat(32)}`,
      receiverSigner: "0x0000000000000000000000000000000000000004",
    },
    deposit,
  );
  store.markOpen(id, deposit);
  return id;
}

test("each voucher is charged + pending + ceiling, strictly increasing, and never above the deposit", () => {
  const { store, db } = setup();
  const id = openChannel(store, 1_000n);
  const a = store.reserve(id, 100n);
  assert.equal(a?.voucherAmount, 100n);
  const b = store.reserve(id, 50n); // concurrent: covers a's ceiling too
  assert.equal(b?.voucherAmount, 150n);
  assert.ok(a && b);
  store.settle(a.id, 40n);
  const c = store.reserve(id, 100n); // charged 40 + pending 50 + 100
  assert.equal(c?.voucherAmount, 190n);
  assert.ok(c);
  store.release(c.id);
  store.settle(b.id, 70n);
  const d = store.reserve(id, 100n); // 70 + 100 = 170 < highest 190 → 191
  assert.equal(d?.voucherAmount, 191n);
  assert.ok(d);
  store.settle(d.id, 80n);
  assert.equal(store.reserve(id, 921n), undefined, "80 + 921 > 1,000");
  assert.equal(store.reserve(id, 920n)?.voucherAmount, 1_000n);
  const channel = store.get(id);
  assert.equal(channel?.charged, 80n);
  assert.equal(channel?.highestSigned, 1_000n);
  db.close();
});

test("receipts may arrive out of order: the allowance explains charges of concurrent requests", () => {
  const { store, db } = setup();
  const id = openChannel(store, 1_000n);
  const a = store.reserve(id, 100n);
  const b = store.reserve(id, 100n);
  assert.ok(a && b);
  // The provider completed a (charge 30) then b (charge 20): b's receipt says 50 and is read first.
  assert.deepEqual(store.allowance(b.id), { chargedAtSign: 0n, extra: 100n, highestSigned: 200n });
  store.settle(b.id, 50n);
  assert.deepEqual(store.allowance(a.id), { chargedAtSign: 0n, extra: 50n, highestSigned: 200n });
  store.settle(a.id, 30n);
  assert.equal(store.get(id)?.charged, 50n, "the charged total never goes down");
  db.close();
});

test("after a restart: totals persist, in-flight reservations are orphaned and still covered, then dropped", () => {
  const first = setup();
  const id = openChannel(first.store, 1_000n);
  const a = first.store.reserve(id, 100n);
  assert.ok(a);
  first.store.settle(a.id, 60n);
  const lost = first.store.reserve(id, 100n); // the process dies while this request is in flight
  assert.equal(lost?.voucherAmount, 160n);
  first.db.close();

  const second = setup(first.dir);
  assert.equal(second.store.orphanLive(), 1);
  const channel = second.store.get(id);
  assert.equal(channel?.charged, 60n);
  assert.equal(channel?.highestSigned, 160n);
  assert.equal(channel?.pending, 100n);
  // The next voucher still covers whatever the lost request may have been charged.
  const next = second.store.reserve(id, 100n);
  assert.equal(next?.voucherAmount, 260n);
  assert.ok(next);
  // The provider charged the lost request 25: the next receipt shows 60 + 25 + 30 = 115, which the orphan explains.
  assert.equal(second.store.allowance(next.id)?.extra, 100n);
  second.store.settle(next.id, 115n);
  assert.equal(second.store.get(id)?.charged, 115n);
  assert.equal(second.store.get(id)?.pending, 0n, "the orphan is folded into the provider's total");
  second.db.close();
});

test("a withdrawing or unopened channel takes no reservation; a state dir of another deployment is refused", () => {
  const { store, db, dir } = setup();
  const id = openChannel(store, 1_000n);
  store.setWithdrawableAt(id, 1_900_000_000);
  assert.equal(store.reserve(id, 1n), undefined);
  db.close();
  const other = { ...deployment, chainId: 1 } as Deployment;
  assert.throws(() => openClientState({ stateDir: dir, deployment: other }), { code: "deployment_mismatch" });
});

test("each channel has a random audit secret that survives restarts, rotates once a receipt under it is selected, and stays findable by its commitment", () => {
  const { store, db, dir } = setup();
  const id = openChannel(store, 1_000n);
  const first = store.auditSecret(id);
  assert.match(first ?? "", /^0x[0-9a-f]{64}$/);
  assert.equal(store.auditSecret(id), first, "stable until rotated");
  assert.equal(store.auditSecret(`0x${"99".repeat(32)}`), undefined, "no secret for an unknown channel");
  const commit = auditCommitOf(first as string);
  assert.equal(store.rotateAuditSecret(id, `0x${"00".repeat(32)}`), false, "another commitment rotates nothing");
  assert.equal(store.rotateAuditSecret(id, commit), true);
  const second = store.auditSecret(id);
  assert.notEqual(second, first);
  assert.equal(store.rotateAuditSecret(id, commit), false, "a retired commitment rotates nothing again");
  assert.deepEqual(store.auditSecretFor(commit), { channelId: id, secret: first });
  assert.equal(store.get(id) && "auditSecret" in (store.get(id) as object), false, "listings never carry secrets");
  db.close();
  const again = setup(dir);
  assert.equal(again.store.auditSecret(id), second);
  assert.deepEqual(again.store.auditSecretFor(commit), { channelId: id, secret: first });
  // A channel recorded before secrets existed gets one on first use.
  again.db.prepare("UPDATE channels SET audit_secret = NULL WHERE channel_id = ?").run(id);
  const third = again.store.auditSecret(id);
  assert.ok(third && third !== second);
  assert.equal(again.store.auditSecretFor(auditCommitOf(third))?.secret, third);
  again.db.close();
});
