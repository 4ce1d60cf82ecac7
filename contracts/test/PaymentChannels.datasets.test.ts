/**
 * PaymentChannels.claim pays a model's credited datasets their shares of the royalty in the same
 * claim: each dataset `floor(royalty * share / 10,000)`, the model owner the exact rest, paid to
 * whoever owns the dataset at claim time.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import fc from "fast-check";
import { type Address, parseEventLogs, type TransactionReceipt } from "viem";
import type { TestChain } from "../../packages/chain/src/testing.ts";
import { paymentChannelsAbi } from "../generated/index.ts";
import { agentFixture, type ChannelConfig, type Fixture } from "./fixture.ts";

const DEPOSIT = 1_000_000_000n;
const BPS = 10_000n;

describe("PaymentChannels.claim dataset royalties", () => {
  let t: TestChain;
  let f: Fixture;
  let agentId: bigint;
  let modelId: bigint; // 5% royalty to modelOwner, protocol fee 1%
  let reset: () => Promise<void>;
  let salt = 0;

  before(async () => {
    ({ t, f, agentId, modelId, reset } = await agentFixture({
      funded: ["client-1"],
      amount: 1_000n * DEPOSIT,
      spender: "paymentChannels",
    }));
  });
  beforeEach(() => reset());
  after(() => t.close());

  const who = (name: string) => t.account(name).address;
  async function openOne(model = modelId) {
    const config: ChannelConfig = f.channelConfig("client-1", agentId, model, { salt: salt++ });
    await f.mined(f.as("client-1").channels.write.open([config, DEPOSIT]));
    return f.channelIdOf(config);
  }
  async function claimAll(amounts: { channelId: `0x${string}`; amount: bigint }[]): Promise<TransactionReceipt> {
    const claims = await Promise.all(
      amounts.map(({ channelId, amount }) =>
        f.voucherClaim({ channelId, cumulativeAmount: amount, amount, signer: "client-1" }),
      ),
    );
    return f.mined(f.as("provider-1").channels.write.claim([claims]));
  }
  const datasetPaid = (receipt: TransactionReceipt) =>
    parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "DatasetRoyaltyPaid" }).map((e) => e.args);
  // What each account holds or is owed: tokens plus royalties credited to it (dataset and model
  // owners are paid by credit, withdrawn later); `f.payOut()` first moves the agents' earnings and
  // the fees to their wallets, so provider and treasury amounts show as tokens.
  const balances = (accounts: Address[]) =>
    Promise.all(accounts.map(async (a) => (await f.balanceOf(a)) + (await f.creditOf(a))));

  test("one claim pays each credited dataset floor(royalty × share) and the model owner the exact rest", async () => {
    const a = await f.registerDataset("client-2");
    const b = await f.registerDataset("client-3");
    await f.creditDataset("modelOwner", modelId, a, 3_000);
    await f.creditDataset("modelOwner", modelId, b, 1_500);
    const channelId = await openOne();
    const accounts = [who("modelOwner"), who("client-2"), who("client-3")];
    const before = await balances(accounts);
    const receipt = await claimAll([{ channelId, amount: 123_457n }]);
    const royalty = (123_457n * 500n) / BPS; // 6,172
    const [claimed] = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "Claimed" });
    assert.equal(claimed?.args.royaltyAmount, royalty);
    assert.deepEqual(datasetPaid(receipt), [
      { datasetId: a, modelId, to: who("client-2"), amount: 1_851n },
      { datasetId: b, modelId, to: who("client-3"), amount: 925n },
    ]);
    await f.payOut();
    const after = await balances(accounts);
    assert.deepEqual(
      after.map((x, i) => x - (before[i] ?? 0n)),
      [royalty - 1_851n - 925n, 1_851n, 925n],
    );
  });

  test("a dataset that changed hands is paid at its new owner's address", async () => {
    const a = await f.registerDataset("client-2");
    await f.creditDataset("modelOwner", modelId, a, 5_000);
    const channelId = await openOne();
    await claimAll([{ channelId, amount: 100_000n }]);
    await f.mined(f.as("client-2").datasets.write.transfer([a, who("client-3")]));
    const before = await balances([who("client-2"), who("client-3")]);
    const receipt = await claimAll([{ channelId, amount: 300_000n }]);
    const share = ((((300_000n - 100_000n) * 500n) / BPS) * 5_000n) / BPS;
    assert.deepEqual(datasetPaid(receipt), [{ datasetId: a, modelId, to: who("client-3"), amount: share }]);
    await f.payOut();
    const after = await balances([who("client-2"), who("client-3")]);
    assert.deepEqual(
      after.map((x, i) => x - (before[i] ?? 0n)),
      [0n, share],
    );
  });

  test("a batch over several models splits each model's run once; nothing is created or lost", async () => {
    const m2 = await f.registerModel("client-4", 1_000);
    const a = await f.registerDataset("client-2");
    const b = await f.registerDataset("client-3");
    await f.creditDataset("modelOwner", modelId, a, 2_500);
    await f.creditDataset("client-4", m2, b, 10_000); // m2's whole royalty goes to dataset b
    const ids = [await openOne(), await openOne(), await openOne(m2), await openOne()];
    const accounts = [
      who("provider-1"),
      who("treasury"),
      who("modelOwner"),
      who("client-4"),
      who("client-2"),
      who("client-3"),
    ];
    const before = await balances(accounts);
    const receipt = await claimAll(ids.map((channelId, i) => ({ channelId, amount: 10_001n * BigInt(i + 1) })));
    const paid = datasetPaid(receipt);
    // Runs: model 1 (channels 0 and 1), m2 (channel 2), model 1 again (channel 3).
    const r1 = (10_001n * 500n) / BPS + (20_002n * 500n) / BPS;
    const r2 = (30_003n * 1_000n) / BPS;
    const r3 = (40_004n * 500n) / BPS;
    assert.deepEqual(paid, [
      { datasetId: a, modelId, to: who("client-2"), amount: (r1 * 2_500n) / BPS },
      { datasetId: b, modelId: m2, to: who("client-3"), amount: r2 },
      { datasetId: a, modelId, to: who("client-2"), amount: (r3 * 2_500n) / BPS },
    ]);
    await f.payOut();
    const after = await balances(accounts);
    const deltas = after.map((x, i) => x - (before[i] ?? 0n));
    assert.equal(
      deltas.reduce((s, d) => s + d, 0n),
      10_001n * 10n,
    );
    assert.equal(deltas[3], 0n); // m2's owner credited its whole royalty away
    assert.equal(deltas[2], r1 + r3 - (r1 * 2_500n) / BPS - (r3 * 2_500n) / BPS);
  });

  test("property: dataset payments plus the owner's rest equal the royalty; no one gains beyond rounding", async () => {
    const creditsArb = fc
      .array(fc.integer({ min: 1, max: 10_000 }), { minLength: 1, maxLength: 8 })
      .filter((shares) => shares.reduce((s, x) => s + x, 0) <= 10_000);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2_000 }),
        creditsArb,
        fc.bigInt({ min: 1n, max: DEPOSIT }),
        async (royaltyBps, shares, amount) => {
          const restore = await t.snapshot();
          try {
            const model = await f.registerModel("modelOwner", royaltyBps);
            const ids: bigint[] = [];
            for (const share of shares) {
              const id = await f.registerDataset("client-2");
              await f.creditDataset("modelOwner", model, id, share);
              ids.push(id);
            }
            const channelId = await openOne(model);
            const [ownerBefore, contributorBefore] = await balances([who("modelOwner"), who("client-2")]);
            const receipt = await claimAll([{ channelId, amount }]);
            const [ownerAfter, contributorAfter] = await balances([who("modelOwner"), who("client-2")]);
            const royalty = (amount * BigInt(royaltyBps)) / BPS;
            const paid = datasetPaid(receipt);
            const toDatasets = paid.reduce((s, p) => s + p.amount, 0n);
            const ownerGot = (ownerAfter ?? 0n) - (ownerBefore ?? 0n);
            assert.equal((contributorAfter ?? 0n) - (contributorBefore ?? 0n), toDatasets);
            assert.equal(ownerGot + toDatasets, royalty); // the sum is exactly what was paid
            for (const [i, share] of shares.entries()) {
              const exact = royalty * BigInt(share); // in units of 1/10,000
              const got = paid.find((p) => p.datasetId === ids[i])?.amount ?? 0n;
              assert.ok(got * BPS <= exact && exact - got * BPS < BPS, "each dataset: floor of its exact share");
            }
            // The owner's rest is its exact share plus under one unit per dataset.
            const ownerExact = royalty * (BPS - BigInt(shares.reduce((s, x) => s + x, 0)));
            assert.ok(ownerGot * BPS >= ownerExact && ownerGot * BPS - ownerExact < BPS * BigInt(shares.length) + 1n);
          } finally {
            await restore();
          }
        },
      ),
      { numRuns: 25 },
    );
  });
});
