import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { type Address, keccak256, stringToHex } from "viem";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import {
  datasetRegistryAbi,
  datasetRegistryBytecode,
  modelRegistryAbi,
  modelRegistryBytecode,
} from "../generated/index.ts";
import { contractAs, deployed, eventsOf, mined } from "./helpers.ts";

const digest = (label: string) => keccak256(stringToHex(label));

describe("ModelRegistry dataset credits", () => {
  let chain: TestChain;
  let registry: Address;
  let datasets: Address;
  let restore: () => Promise<void>;

  const models = (name: string) => contractAs(chain, modelRegistryAbi, registry, name);
  const data = (name: string) => contractAs(chain, datasetRegistryAbi, datasets, name);
  const addr = (name: string) => chain.account(name).address;

  before(async () => {
    chain = await createTestChain();
    datasets = await deployed(chain, { from: "deployer", abi: datasetRegistryAbi, bytecode: datasetRegistryBytecode });
    registry = await deployed(chain, {
      from: "deployer",
      abi: modelRegistryAbi,
      bytecode: modelRegistryBytecode,
      args: [2_000, datasets],
    });
    await mined(chain, models("modelOwner").write.registerModel([digest("w"), digest("t"), 500, "", "Llama"]));
    // Dataset 1 asks for at least 10% of a royalty; datasets 2..10 ask for nothing.
    await mined(chain, data("client-1").write.register([digest("d1"), 1_000, 0n, "", ""]));
    for (let i = 2; i <= 10; i++) {
      await mined(chain, data("client-2").write.register([digest(`d${i}`), 0, 0n, "", ""]));
    }
  });
  after(async () => chain.close());
  beforeEach(async () => {
    restore = await chain.snapshot();
  });
  afterEach(async () => restore());

  it("credits a dataset (owner only), emits DatasetCredited and shows it in the royalty split", async () => {
    await expectRevert(models("client-1").write.creditDataset([1n, 1n, 2_000]), "NotModelOwner");
    await expectRevert(models("modelOwner").write.creditDataset([2n, 1n, 2_000]), "UnknownModel");
    const receipt = await mined(chain, models("modelOwner").write.creditDataset([1n, 1n, 2_000]));
    assert.deepEqual(eventsOf(modelRegistryAbi, receipt, "DatasetCredited")[0]?.args, {
      modelId: 1n,
      datasetId: 1n,
      shareBps: 2_000,
      totalShareBps: 2_000,
    });
    await mined(chain, models("modelOwner").write.creditDataset([1n, 2n, 500]));
    assert.deepEqual(await models("deployer").read.datasetCredits([1n]), [
      { datasetId: 1n, shareBps: 2_000 },
      { datasetId: 2n, shareBps: 500 },
    ]);
    assert.equal((await models("deployer").read.getModel([1n])).datasetCount, 2);
    assert.deepEqual(await models("deployer").read.royaltySplit([1n]), [
      addr("modelOwner"),
      500,
      [
        { datasetId: 1n, owner: addr("client-1"), shareBps: 2_000 },
        { datasetId: 2n, owner: addr("client-2"), shareBps: 500 },
      ],
    ]);
    await expectRevert(models("deployer").read.royaltySplit([3n]), "UnknownModel");
    await expectRevert(models("deployer").read.datasetCredits([3n]), "UnknownModel");
  });

  it("refuses an unregistered dataset, a zero share and a share below the dataset's terms", async () => {
    await expectRevert(models("modelOwner").write.creditDataset([1n, 11n, 100]), "DatasetUnknown");
    await expectRevert(models("modelOwner").write.creditDataset([1n, 0n, 100]), "DatasetUnknown");
    await expectRevert(models("modelOwner").write.creditDataset([1n, 2n, 0]), "ZeroDatasetShare");
    await expectRevert(models("modelOwner").write.creditDataset([1n, 1n, 999]), "DatasetShareBelowTerms");
    assert.deepEqual(await models("deployer").read.datasetCredits([1n]), []);
  });

  it("a credit can be raised or kept, never lowered", async () => {
    await mined(chain, models("modelOwner").write.creditDataset([1n, 2n, 300]));
    await mined(chain, models("modelOwner").write.creditDataset([1n, 2n, 300]));
    const receipt = await mined(chain, models("modelOwner").write.creditDataset([1n, 2n, 700]));
    assert.equal(eventsOf(modelRegistryAbi, receipt, "DatasetCredited")[0]?.args.totalShareBps, 700);
    await expectRevert(models("modelOwner").write.creditDataset([1n, 2n, 699]), "DatasetCreditLowered");
    assert.deepEqual(await models("deployer").read.datasetCredits([1n]), [{ datasetId: 2n, shareBps: 700 }]);
  });

  it("credits add up to at most 100% of the royalty, raises included", async () => {
    await mined(chain, models("modelOwner").write.creditDataset([1n, 2n, 6_000]));
    await expectRevert(models("modelOwner").write.creditDataset([1n, 3n, 4_001]), "DatasetShareTooHigh");
    await mined(chain, models("modelOwner").write.creditDataset([1n, 3n, 4_000]));
    await expectRevert(models("modelOwner").write.creditDataset([1n, 2n, 6_001]), "DatasetShareTooHigh");
    await expectRevert(models("modelOwner").write.creditDataset([1n, 4n, 1]), "DatasetShareTooHigh");
    const credits = await models("deployer").read.datasetCredits([1n]);
    assert.equal(
      credits.reduce((sum, c) => sum + c.shareBps, 0),
      10_000,
    );
  });

  it("at most MAX_DATASET_CREDITS datasets per model (DatasetCreditsFull), raising one still works", async () => {
    assert.equal(await models("deployer").read.MAX_DATASET_CREDITS(), 8);
    for (let id = 2n; id <= 9n; id++) await mined(chain, models("modelOwner").write.creditDataset([1n, id, 100]));
    await expectRevert(models("modelOwner").write.creditDataset([1n, 10n, 100]), "DatasetCreditsFull");
    await mined(chain, models("modelOwner").write.creditDataset([1n, 9n, 200]));
    assert.equal((await models("deployer").read.datasetCredits([1n])).length, 8);
  });

  it("credits survive a model transfer, and only the new owner may add more", async () => {
    await mined(chain, models("modelOwner").write.creditDataset([1n, 2n, 100]));
    await mined(chain, models("modelOwner").write.transferModel([1n, addr("client-3")]));
    await expectRevert(models("modelOwner").write.creditDataset([1n, 3n, 100]), "NotModelOwner");
    await mined(chain, models("client-3").write.creditDataset([1n, 3n, 100]));
    assert.equal((await models("deployer").read.datasetCredits([1n])).length, 2);
  });
});
