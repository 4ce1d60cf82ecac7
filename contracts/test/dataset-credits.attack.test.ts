/**
 * Attacks on the data market's money: a model owner cutting contributors out after they were
 * credited, a model owner crediting so much that the provider or the treasury pays for it, and
 * strangers redirecting dataset payments.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { parseEventLogs, type TransactionReceipt } from "viem";
import { expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { paymentChannelsAbi } from "../generated/index.ts";
import { agentFixture, type Fixture } from "./fixture.ts";

const DEPOSIT = 10_000_000n;

describe("dataset credits: attacks", () => {
  let t: TestChain;
  let f: Fixture;
  let agentId: bigint;
  let modelId: bigint; // 5% royalty to modelOwner
  let reset: () => Promise<void>;
  let salt = 0;

  before(async () => {
    ({ t, f, agentId, modelId, reset } = await agentFixture({
      funded: ["client-1"],
      amount: 100n * DEPOSIT,
      spender: "paymentChannels",
    }));
  });
  beforeEach(() => reset());
  after(() => t.close());

  const who = (name: string) => t.account(name).address;
  async function claimOnce(model: bigint, amount: bigint): Promise<TransactionReceipt> {
    const config = f.channelConfig("client-1", agentId, model, { salt: salt++ });
    await f.mined(f.as("client-1").channels.write.open([config, DEPOSIT]));
    const channelId = await f.channelIdOf(config);
    const claim = await f.voucherClaim({ channelId, cumulativeAmount: amount, amount, signer: "client-1" });
    return f.mined(f.as("provider-1").channels.write.claim([[claim]]));
  }
  const claimed = (receipt: TransactionReceipt) =>
    parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "Claimed" })[0]?.args;

  test("attack: a model owner lowers or drops a contributor's credit after its data made the model", async () => {
    const dataset = await f.registerDataset("client-2");
    await f.creditDataset("modelOwner", modelId, dataset, 4_000);
    await expectRevert(f.as("modelOwner").models.write.creditDataset([modelId, dataset, 1]), "DatasetCreditLowered");
    await expectRevert(f.as("modelOwner").models.write.creditDataset([modelId, dataset, 0]), "ZeroDatasetShare");
    // Crowding it out with new credits cannot push the total past 100% either.
    const other = await f.registerDataset("modelOwner");
    await expectRevert(f.as("modelOwner").models.write.creditDataset([modelId, other, 6_001]), "DatasetShareTooHigh");
    const before = await f.creditOf(who("client-2"));
    await claimOnce(modelId, 1_000_000n);
    assert.equal((await f.creditOf(who("client-2"))) - before, (50_000n * 4_000n) / 10_000n);
  });

  test("attack: a model owner credits 100% of its royalty away so the provider or treasury pays for it", async () => {
    const plain = await f.registerModel("modelOwner", 500);
    const credited = await f.registerModel("modelOwner", 500);
    for (const share of [5_000, 3_000, 2_000]) {
      await f.creditDataset("modelOwner", credited, await f.registerDataset("client-2"), share);
    }
    const a = claimed(await claimOnce(plain, 777_777n));
    const b = claimed(await claimOnce(credited, 777_777n));
    assert.ok(a && b);
    // Provider and treasury get exactly what they get without credits: datasets share only the royalty.
    assert.deepEqual(
      [b.providerAmount, b.feeAmount, b.royaltyAmount],
      [a.providerAmount, a.feeAmount, a.royaltyAmount],
    );
  });

  test("attack: strangers credit datasets on someone else's model or take over a dataset's payments", async () => {
    const dataset = await f.registerDataset("client-2");
    const mine = await f.registerDataset("client-3");
    await expectRevert(f.as("client-3").models.write.creditDataset([modelId, mine, 9_000]), "NotModelOwner");
    await expectRevert(f.as("client-3").datasets.write.transfer([dataset, who("client-3")]), "NotDatasetOwner");
    await f.creditDataset("modelOwner", modelId, dataset, 1_000);
    const receipt = await claimOnce(modelId, 1_000_000n);
    const paid = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "DatasetRoyaltyPaid" });
    assert.deepEqual(
      paid.map((e) => e.args.to),
      [who("client-2")],
    );
  });
});
