import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import { createDepositScene, type DepositScene } from "./deposit-watcher-scene.ts";
import { depositToGateway } from "./testing.ts";

let s: DepositScene;
beforeEach(async () => {
  s = await createDepositScene();
});
afterEach(async () => {
  await s.close();
});

const address = (name: string) => s.t.account(name).address;
const deposit = (account: string, amount: bigint, forAccount?: `0x${string}`) =>
  depositToGateway({
    t: s.t,
    deployment: s.deployment,
    account,
    gateway: s.gateway,
    amount,
    ...(forAccount ? { for: forAccount } : {}),
  });
const getLogsRanges = () =>
  s.calls
    .filter((c) => c.method === "eth_getLogs")
    .map((c) => {
      const [filter] = c.params as [{ fromBlock: `0x${string}`; toBlock: `0x${string}` }];
      return [BigInt(filter.fromBlock), BigInt(filter.toBlock)] as const;
    });

test("a deposit credits its account exactly once; a restarted watcher resumes without crediting it again", async () => {
  const first = await deposit("client-1", 7_000_000n);
  const watcher = s.watcher();
  assert.equal(await watcher.scan(), 1);
  assert.equal(await watcher.scan(), 0);
  assert.equal(await s.ledger.balanceOf(address("client-1")), 7_000_000n);
  const [entry] = await s.ledger.entries(address("client-1"));
  assert.equal(entry?.reason, "deposit");
  assert.match(entry?.ref ?? "", new RegExp(`^${first.txHash}:\\d+$`));

  // A deposit paid by client-1 for client-2 credits client-2, not the payer.
  await deposit("client-1", 3_000_000n, address("client-2"));
  const restarted = s.watcher();
  s.calls.length = 0;
  assert.equal(await restarted.scan(), 1);
  assert.equal(await s.ledger.balanceOf(address("client-1")), 7_000_000n);
  assert.equal(await s.ledger.balanceOf(address("client-2")), 3_000_000n);
  const [[from]] = getLogsRanges() as [[bigint, bigint]];
  assert.ok(from > first.block, "the restarted watcher scans from its saved cursor, not from the start");
  assert.equal(await s.watcher().scan(), 0);
  assert.equal(await s.ledger.balanceOf(address("client-1")), 7_000_000n);
});

test("a deposit credits only once it has the configured number of confirmations", async () => {
  const watcher = s.watcher({ confirmations: 3 });
  const made = await deposit("client-1", 5_000_000n);
  assert.equal(await watcher.scan(), 0);
  await s.t.testClient.mine({ blocks: 2 });
  assert.equal(await watcher.scan(), 0, "two blocks on top are not three confirmations");
  assert.equal(await s.ledger.balanceOf(address("client-1")), 0n);
  for (const [, to] of getLogsRanges()) assert.ok(to < made.block, `scanned up to ${to}, not yet confirmed`);
  await s.t.testClient.mine({ blocks: 1 });
  assert.equal(await s.t.publicClient.getBlockNumber(), made.block + 3n);
  assert.equal(await watcher.scan(), 1);
  assert.equal(await s.ledger.balanceOf(address("client-1")), 5_000_000n);
  assert.equal(getLogsRanges().at(-1)?.[1], made.block, "scanned exactly up to head - confirmations");
});

test("a scan over more than maxRange blocks uses bounded getLogs calls, saves the cursor per range and resumes", async () => {
  const early = await deposit("client-1", 1_000_000n);
  await s.t.testClient.mine({ blocks: 25 });
  const late = await deposit("client-2", 2_000_000n);
  const head = await s.t.publicClient.getBlockNumber();
  const start = BigInt(s.deployment.contracts.GatewayDeposits?.block ?? 0);
  assert.ok(head - start + 1n > 20n, "the chain is longer than two ranges");

  // From the second getLogs call on, the RPC refuses every range (halved down to one block): the
  // scan gives up, keeping the first range's credit and cursor.
  s.failNext("eth_getLogs", 1);
  for (let i = 0; i < 3; i++) s.failNext("eth_getLogs");
  await assert.rejects(s.watcher({ maxRange: 10 }).scan(), /injected/);
  const afterFailure = getLogsRanges();
  assert.deepEqual(
    afterFailure.map(([from, to]) => to - from + 1n),
    [10n, 10n, 5n, 2n, 1n],
    "a refused range is halved down to one block before the scan gives up",
  );
  assert.deepEqual(afterFailure[0], [start, start + 9n]);
  assert.ok(early.block <= start + 9n);
  assert.equal(await s.ledger.balanceOf(address("client-1")), 1_000_000n);

  s.calls.length = 0;
  assert.equal(await s.watcher({ maxRange: 10 }).scan(), 1);
  const ranges = getLogsRanges();
  assert.deepEqual(ranges[0], [start + 10n, start + 19n], "resumes after the last saved range");
  assert.equal(ranges.at(-1)?.[1], head);
  for (const [from, to] of ranges) assert.ok(to - from + 1n <= 10n, `range ${from}..${to} exceeds maxRange`);
  for (let i = 1; i < ranges.length; i++) assert.equal(ranges[i]?.[0], (ranges[i - 1]?.[1] ?? 0n) + 1n);
  assert.ok(late.block <= head);
  assert.equal(await s.ledger.balanceOf(address("client-1")), 1_000_000n);
  assert.equal(await s.ledger.balanceOf(address("client-2")), 2_000_000n);
});

test("a reorg that drops a credited deposit takes the credit back and credits the deposit that replaced it", async () => {
  const watcher = s.watcher();
  await watcher.scan();
  const revert = await s.t.snapshot();
  const vanished = await deposit("client-1", 4_000_000n);
  await s.t.testClient.mine({ blocks: 2 });
  assert.equal(await watcher.scan(), 1);
  assert.equal(await s.ledger.balanceOf(address("client-1")), 4_000_000n);

  // Another history from the snapshot on: client-2 deposits instead, and the chain grows past the old head.
  await revert();
  const replacement = await deposit("client-2", 6_000_000n);
  await s.t.testClient.mine({ blocks: 5 });
  assert.notEqual(
    (await s.t.publicClient.getBlock({ blockNumber: vanished.block })).hash,
    undefined,
    "the old deposit's height exists again with other contents",
  );
  assert.equal(await watcher.scan(), 1);
  assert.equal(await s.ledger.balanceOf(address("client-1")), 0n, "the vanished deposit is no longer credited");
  assert.equal(await s.ledger.balanceOf(address("client-2")), 6_000_000n);
  const reasons = (await s.ledger.entries(address("client-1"))).map((e) => [e.reason, e.delta]);
  assert.deepEqual(reasons, [
    ["deposit_reverted", -4_000_000n],
    ["deposit", 4_000_000n],
  ]);
  assert.ok(replacement.block >= vanished.block);
  // The replacement is credited once, and a later scan changes nothing.
  assert.equal(await s.watcher().scan(), 0);
  assert.equal(await s.ledger.balanceOf(address("client-2")), 6_000_000n);
});

test("replicas: watchers scanning one store at once credit each deposit once and the cursor only moves forward", async () => {
  for (let i = 0; i < 3; i++) await deposit("client-1", 1_000_000n);
  await deposit("client-2", 2_000_000n);
  // Small ranges, so the watchers interleave range by range.
  const watchers = Array.from({ length: 3 }, () => s.watcher({ maxRange: 2 }));
  const credited = await Promise.all(watchers.map((w) => w.scan()));
  assert.equal(
    credited.reduce((a, b) => a + b, 0),
    4,
    `each deposit credited by exactly one watcher (${credited})`,
  );
  assert.equal(await s.ledger.balanceOf(address("client-1")), 3_000_000n);
  assert.equal(await s.ledger.balanceOf(address("client-2")), 2_000_000n);
  const [cursor] = await s.store.query<{ block: string }>("SELECT block FROM deposit_scan");
  assert.equal(BigInt(cursor?.block ?? "0"), await s.t.publicClient.getBlockNumber());
  await deposit("client-2", 1n);
  assert.deepEqual((await Promise.all(watchers.map((w) => w.scan()))).sort(), [0, 0, 1]);
  assert.equal(await s.ledger.balanceOf(address("client-2")), 2_000_001n);
});

test("a range the RPC refuses once is split and retried, and grows back afterwards", async () => {
  await s.t.testClient.mine({ blocks: 30 });
  await deposit("client-1", 1_000_000n);
  s.failNext("eth_getLogs");
  assert.equal(await s.watcher({ maxRange: 8 }).scan(), 1);
  const sizes = getLogsRanges().map(([from, to]) => to - from + 1n);
  assert.deepEqual(sizes.slice(0, 3), [8n, 4n, 8n]);
  assert.equal(await s.ledger.balanceOf(address("client-1")), 1_000_000n);
});

test("an RPC outage while checking the cursor is not a reorg: no credit is taken back", async () => {
  await deposit("client-1", 1_000_000n);
  const watcher = s.watcher();
  assert.equal(await watcher.scan(), 1);
  await s.t.testClient.mine({ blocks: 3 });
  for (let i = 0; i < 50; i++) s.failNext("eth_getBlockByNumber");
  await assert.rejects(watcher.scan(), /injected/);
  assert.equal(await s.ledger.balanceOf(address("client-1")), 1_000_000n, "the deposit still stands");
  assert.equal((await s.ledger.entries(address("client-1"), { reason: "deposit_reverted" })).length, 0);
});
