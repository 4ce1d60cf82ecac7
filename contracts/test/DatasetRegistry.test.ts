import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { type Address, keccak256, stringToHex, zeroAddress, zeroHash } from "viem";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { datasetRegistryAbi, datasetRegistryBytecode } from "../generated/index.ts";
import { contractAs, deployed, eventsOf, mined } from "./helpers.ts";

const DIGEST = keccak256(stringToHex("wiki-2026-12.jsonl"));

describe("DatasetRegistry", () => {
  let chain: TestChain;
  let registry: Address;
  let restore: () => Promise<void>;

  const as = (name: string) => contractAs(chain, datasetRegistryAbi, registry, name);
  const addr = (name: string) => chain.account(name).address;

  before(async () => {
    chain = await createTestChain();
    registry = await deployed(chain, { from: "deployer", abi: datasetRegistryAbi, bytecode: datasetRegistryBytecode });
    await mined(chain, as("client-1").write.register([DIGEST, 1_000, 25n, "ipfs://cc-by-4.0", "ipfs://wiki"]));
  });
  after(async () => chain.close());
  beforeEach(async () => {
    restore = await chain.snapshot();
  });
  afterEach(async () => restore());

  it("registers id 1 owned by the sender with its terms and emits DatasetRegistered", async () => {
    const dataset = await as("deployer").read.getDataset([1n]);
    assert.equal(dataset.owner, addr("client-1"));
    assert.equal(dataset.minShareBps, 1_000);
    assert.equal(dataset.pricePerUse, 25n);
    assert.equal(dataset.digest, DIGEST);
    assert.equal(dataset.licenceURI, "ipfs://cc-by-4.0");
    assert.equal(dataset.uri, "ipfs://wiki");
    assert.ok(dataset.registeredAt > 0n);
    assert.deepEqual(await as("deployer").read.termsOf([1n]), [addr("client-1"), 1_000, 25n]);
    assert.equal(await as("deployer").read.ownerOf([1n]), addr("client-1"));
    assert.equal(await as("deployer").read.datasetIdOf([DIGEST]), 1n);
    assert.equal(await as("deployer").read.datasetCount(), 1n);

    const other = keccak256(stringToHex("other"));
    const receipt = await mined(chain, as("client-2").write.register([other, 0, 0n, "", ""]));
    assert.deepEqual(eventsOf(datasetRegistryAbi, receipt, "DatasetRegistered")[0]?.args, {
      datasetId: 2n,
      owner: addr("client-2"),
      digest: other,
      minShareBps: 0,
      pricePerUse: 0n,
      licenceURI: "",
      uri: "",
    });
    assert.equal(await as("deployer").read.datasetCount(), 2n);
  });

  it("unknown ids read as zero terms and getDataset reverts DatasetUnknown", async () => {
    assert.deepEqual(await as("deployer").read.termsOf([9n]), [zeroAddress, 0, 0n]);
    assert.equal(await as("deployer").read.ownerOf([0n]), zeroAddress);
    assert.equal(await as("deployer").read.datasetIdOf([zeroHash]), 0n);
    await expectRevert(as("deployer").read.getDataset([0n]), "DatasetUnknown");
    await expectRevert(as("deployer").read.getDataset([2n]), "DatasetUnknown");
  });

  it("a digest registers once: the first registrant wins (DatasetDigestTaken)", async () => {
    await expectRevert(as("client-2").write.register([DIGEST, 0, 0n, "", "squat"]), "DatasetDigestTaken");
    await expectRevert(as("client-1").write.register([DIGEST, 0, 0n, "", "again"]), "DatasetDigestTaken");
  });

  it("refuses a zero digest and a minimum share above 100%", async () => {
    await expectRevert(as("client-2").write.register([zeroHash, 0, 0n, "", ""]), "ZeroDatasetDigest");
    const other = keccak256(stringToHex("other"));
    await expectRevert(as("client-2").write.register([other, 10_001, 0n, "", ""]), "DatasetShareTooHigh");
    await mined(chain, as("client-2").write.register([other, 10_000, 0n, "", ""]));
  });

  it("transfer moves ownership (owner only, non-zero, known ids) and emits DatasetTransferred", async () => {
    await expectRevert(as("client-2").write.transfer([1n, addr("client-2")]), "NotDatasetOwner");
    await expectRevert(as("client-1").write.transfer([1n, zeroAddress]), "ZeroDatasetOwner");
    await expectRevert(as("client-1").write.transfer([5n, addr("client-2")]), "DatasetUnknown");
    const receipt = await mined(chain, as("client-1").write.transfer([1n, addr("client-2")]));
    assert.deepEqual(eventsOf(datasetRegistryAbi, receipt, "DatasetTransferred")[0]?.args, {
      datasetId: 1n,
      previousOwner: addr("client-1"),
      newOwner: addr("client-2"),
    });
    assert.equal(await as("deployer").read.ownerOf([1n]), addr("client-2"));
    await expectRevert(as("client-1").write.transfer([1n, addr("client-1")]), "NotDatasetOwner");
  });
});
