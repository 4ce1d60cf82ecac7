import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connectChain, deploy } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import { datasetRegistryAbi, modelRegistryAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import { keccak256, stringToHex } from "viem";
import { creditDevnetDataset, DEVNET_DATASET_SHARE_BPS } from "./devnet-datasets.ts";

let t: TestChain;
let deployment: Deployment;

before(async () => {
  t = await createTestChain();
  deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
});
after(async () => t?.close());

test("the devnet's demo dataset is registered, handed to its contributor and credited once", async () => {
  const modelOwner = await connectChain({ provider: t.edr.provider, account: t.account("modelOwner").privateKey });
  const models = deployment.contracts.ModelRegistry.address;
  await modelOwner.transact("register", () =>
    modelOwner.walletClient.writeContract({
      address: models,
      abi: modelRegistryAbi,
      functionName: "registerModel",
      args: [keccak256(stringToHex("w")), keccak256(stringToHex("t")), 500, "", "verity-tiny"],
      chain: modelOwner.chain,
      account: modelOwner.account,
    }),
  );
  const contributor = t.account("client-6").address;
  const first = await creditDevnetDataset({ deployment, modelOwner, modelId: 1n, contributor });
  const again = await creditDevnetDataset({ deployment, modelOwner, modelId: 1n, contributor });
  assert.equal(first, 1n);
  assert.equal(again, 1n, "a restarted devnet finds the same dataset");
  const owner = await t.publicClient.readContract({
    address: deployment.contracts.DatasetRegistry?.address ?? "0x",
    abi: datasetRegistryAbi,
    functionName: "ownerOf",
    args: [1n],
  });
  assert.equal(owner, contributor);
  const credits = await t.publicClient.readContract({
    address: models,
    abi: modelRegistryAbi,
    functionName: "datasetCredits",
    args: [1n],
  });
  assert.deepEqual(credits, [{ datasetId: 1n, shareBps: DEVNET_DATASET_SHARE_BPS }]);

  const { DatasetRegistry: _, ...older } = deployment.contracts;
  assert.equal(
    await creditDevnetDataset({
      deployment: { ...deployment, contracts: older },
      modelOwner,
      modelId: 1n,
      contributor,
    }),
    undefined,
    "a deployment from before the data market credits nothing",
  );
});
