import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type CompletedRequest, createProviderStore } from "./store.ts";

const CHANNEL = `0x${"ab".repeat(32)}` as const;

function completed(n: number, fields: Partial<CompletedRequest> = {}): CompletedRequest {
  return {
    requestId: `0x${n.toString(16).padStart(64, "0")}`,
    channelId: CHANNEL,
    model: "m",
    voucherAmount: BigInt(1000 + n),
    voucherSignature: `0x${n.toString(16).padStart(130, "0")}`,
    promptTokens: 3,
    completionTokens: 2,
    charge: 10n,
    cumulativeCharged: BigInt(10 * n),
    receipt: "{}",
    signature: `0x${"ef".repeat(65)}`,
    createdAt: 1_000 + n,
    ...fields,
  };
}

test("channel() always equals what a fresh store reads from disk (writes, claims, a failed write)", async () => {
  const path = join(mkdtempSync(join(tmpdir(), "verity-store-")), "provider.sqlite");
  const store = createProviderStore({ path });
  const fromDisk = () => {
    const other = createProviderStore({ path });
    try {
      return other.channel(CHANNEL);
    } finally {
      other.close();
    }
  };
  assert.deepEqual(store.channel(CHANNEL), fromDisk());
  await store.recordCompletion(completed(1));
  assert.deepEqual(store.channel(CHANNEL), fromDisk());
  assert.equal(store.channel(CHANNEL).charged, 10n);
  // a lower voucher keeps the best one held
  await store.recordCompletion(completed(2, { voucherAmount: 5n }));
  assert.deepEqual(store.channel(CHANNEL), fromDisk());
  assert.equal(store.channel(CHANNEL).voucherAmount, 1001n);
  store.markClaimed(CHANNEL, 15n, 5_000);
  assert.deepEqual(store.channel(CHANNEL), fromDisk());
  assert.equal(store.channel(CHANNEL).claimed, 15n);
  // the same request id again: the transaction fails and nothing changes
  assert.throws(() => store.recordCompletion(completed(2, { cumulativeCharged: 999n })));
  assert.deepEqual(store.channel(CHANNEL), fromDisk());
  assert.equal(store.channel(CHANNEL).charged, 20n);
  // every recorded voucher counts as used, the fast answer above the best one held included
  assert.equal(store.voucherUsed(CHANNEL, 1001n), true);
  assert.equal(store.voucherUsed(CHANNEL, 5n), true);
  assert.equal(store.voucherUsed(CHANNEL, 6n), false);
  assert.equal(store.voucherUsed(CHANNEL, 1002n), false);
  store.close();
});
