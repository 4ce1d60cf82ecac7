import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { type Address, keccak256, stringToHex, zeroAddress, zeroHash } from "viem";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import {
  datasetRegistryAbi,
  datasetRegistryBytecode,
  modelRegistryAbi,
  modelRegistryBytecode,
} from "../generated/index.ts";
import { contractAs, deployed, eventsOf, expectDeployRevert, mined } from "./helpers.ts";

const WEIGHTS = keccak256(stringToHex("llama-weights"));
const TOKENIZER = keccak256(stringToHex("llama-tokenizer"));
const MAX_ROYALTY = 2_000;

describe("ModelRegistry", () => {
  let chain: TestChain;
  let registry: Address;
  let datasets: Address;
  let restore: () => Promise<void>;

  const as = (name: string) => contractAs(chain, modelRegistryAbi, registry, name);
  const addr = (name: string) => chain.account(name).address;

  before(async () => {
    chain = await createTestChain();
    datasets = await deployed(chain, { from: "deployer", abi: datasetRegistryAbi, bytecode: datasetRegistryBytecode });
    registry = await deployed(chain, {
      from: "deployer",
      abi: modelRegistryAbi,
      bytecode: modelRegistryBytecode,
      args: [MAX_ROYALTY, datasets],
    });
    await mined(chain, as("modelOwner").write.registerModel([WEIGHTS, TOKENIZER, 500, "ipfs://licence", "Llama"]));
  });
  after(async () => chain.close());
  beforeEach(async () => {
    restore = await chain.snapshot();
  });
  afterEach(async () => restore());

  describe("constructor", () => {
    it("accepts up to 10,000 bps and reverts MaxRoyaltyAboveOneHundredPercent above", async () => {
      assert.equal(await as("deployer").read.maxRoyaltyBps(), MAX_ROYALTY);
      assert.equal(await as("deployer").read.datasetRegistry(), datasets);
      const full = await deployed(chain, {
        from: "deployer",
        abi: modelRegistryAbi,
        bytecode: modelRegistryBytecode,
        args: [10_000, datasets],
      });
      assert.equal(await contractAs(chain, modelRegistryAbi, full, "deployer").read.maxRoyaltyBps(), 10_000);
      await expectDeployRevert(
        chain,
        { abi: modelRegistryAbi, bytecode: modelRegistryBytecode, args: [10_001, datasets] },
        "MaxRoyaltyAboveOneHundredPercent",
      );
      await expectDeployRevert(
        chain,
        { abi: modelRegistryAbi, bytecode: modelRegistryBytecode, args: [10_000, zeroAddress] },
        "ZeroDatasetRegistry",
      );
    });
  });

  describe("registerModel", () => {
    it("registers id 1 with its data and emits ModelRegistered", async () => {
      const model = await as("deployer").read.getModel([1n]);
      assert.equal(model.owner, addr("modelOwner"));
      assert.equal(model.royaltyBps, 500);
      assert.equal(model.weightsHash, WEIGHTS);
      assert.equal(model.tokenizerHash, TOKENIZER);
      assert.equal(model.licenceURI, "ipfs://licence");
      assert.equal(model.name, "Llama");
      assert.equal(model.datasetCount, 0);
      assert.ok(model.registeredAt > 0n);
      assert.equal(await as("deployer").read.modelIdOf([WEIGHTS, TOKENIZER]), 1n);
      assert.equal(await as("deployer").read.modelCount(), 1n);

      const weights2 = keccak256(stringToHex("other"));
      const receipt = await mined(
        chain,
        as("client-1").write.registerModel([weights2, TOKENIZER, MAX_ROYALTY, "", "Other"]),
      );
      assert.deepEqual(eventsOf(modelRegistryAbi, receipt, "ModelRegistered")[0]?.args, {
        modelId: 2n,
        owner: addr("client-1"),
        weightsHash: weights2,
        tokenizerHash: TOKENIZER,
        royaltyBps: MAX_ROYALTY,
        licenceURI: "",
        name: "Other",
      });
      assert.equal(await as("deployer").read.modelCount(), 2n);
      assert.equal(await as("deployer").read.modelIdOf([weights2, WEIGHTS]), 0n);
    });

    it("a (weights, tokenizer) pair registers once", async () => {
      await expectRevert(
        as("client-1").write.registerModel([WEIGHTS, TOKENIZER, 0, "", "Copy"]),
        "ModelAlreadyRegistered",
      );
    });

    it("rejects zero hashes and royalties above the maximum", async () => {
      await expectRevert(as("client-1").write.registerModel([zeroHash, TOKENIZER, 0, "", "x"]), "ZeroModelHash");
      await expectRevert(as("client-1").write.registerModel([TOKENIZER, zeroHash, 0, "", "x"]), "ZeroModelHash");
      await expectRevert(
        as("client-1").write.registerModel([TOKENIZER, WEIGHTS, MAX_ROYALTY + 1, "", "x"]),
        "RoyaltyTooHigh",
      );
    });
  });

  describe("ownership and royalties", () => {
    it("royaltyInfo returns owner and bps; UnknownModel for unregistered ids", async () => {
      assert.deepEqual(await as("deployer").read.royaltyInfo([1n]), [addr("modelOwner"), 500]);
      await expectRevert(as("deployer").read.royaltyInfo([0n]), "UnknownModel");
      await expectRevert(as("deployer").read.royaltyInfo([2n]), "UnknownModel");
      await expectRevert(as("deployer").read.getModel([2n]), "UnknownModel");
    });

    it("transferModel moves ownership (owner only, non-zero) and emits ModelTransferred", async () => {
      await expectRevert(as("client-1").write.transferModel([1n, addr("client-1")]), "NotModelOwner");
      await expectRevert(as("modelOwner").write.transferModel([1n, zeroAddress]), "ZeroModelOwner");
      await expectRevert(as("modelOwner").write.transferModel([3n, addr("client-1")]), "UnknownModel");
      const receipt = await mined(chain, as("modelOwner").write.transferModel([1n, addr("client-1")]));
      assert.deepEqual(eventsOf(modelRegistryAbi, receipt, "ModelTransferred")[0]?.args, {
        modelId: 1n,
        previousOwner: addr("modelOwner"),
        newOwner: addr("client-1"),
      });
      assert.deepEqual(await as("deployer").read.royaltyInfo([1n]), [addr("client-1"), 500]);
      await expectRevert(as("modelOwner").write.lowerRoyalty([1n, 0]), "NotModelOwner");
    });

    it("lowerRoyalty only lowers (or keeps) the royalty and emits RoyaltyLowered", async () => {
      await expectRevert(as("modelOwner").write.lowerRoyalty([1n, 501]), "RoyaltyIncreaseNotAllowed");
      await expectRevert(as("client-1").write.lowerRoyalty([1n, 100]), "NotModelOwner");
      await expectRevert(as("modelOwner").write.lowerRoyalty([7n, 100]), "UnknownModel");
      const receipt = await mined(chain, as("modelOwner").write.lowerRoyalty([1n, 100]));
      assert.deepEqual(eventsOf(modelRegistryAbi, receipt, "RoyaltyLowered")[0]?.args, {
        modelId: 1n,
        previousBps: 500,
        newBps: 100,
      });
      await mined(chain, as("modelOwner").write.lowerRoyalty([1n, 100]));
      await expectRevert(as("modelOwner").write.lowerRoyalty([1n, 500]), "RoyaltyIncreaseNotAllowed");
      assert.deepEqual(await as("deployer").read.royaltyInfo([1n]), [addr("modelOwner"), 100]);
    });
  });
});
