import type { ChainClients } from "@verity/chain";
import { datasetRegistryAbi, modelRegistryAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import { keccak256, stringToHex } from "viem";

/** Content digest of the devnet's demo dataset (a stand-in: the devnet model was not trained on data). */
export const DEVNET_DATASET_DIGEST = keccak256(stringToHex("verity devnet demo dataset"));

/** Share of the devnet model's royalty credited to the demo dataset: 20 % of its 5 % royalty. */
export const DEVNET_DATASET_SHARE_BPS = 2_000;

/**
 * Registers the devnet's demo dataset (owned by `contributor`: the model owner registers it and
 * transfers it, so the devnet needs no extra funded signer) and credits it on `modelId`, so every
 * claim on the devnet pays it a share of the royalty. Idempotent: a restored devnet keeps both.
 * Returns the dataset id, or undefined on a deployment without a DatasetRegistry.
 */
export async function creditDevnetDataset(args: {
  deployment: Deployment;
  modelOwner: ChainClients;
  modelId: bigint;
  contributor: `0x${string}`;
}): Promise<bigint | undefined> {
  const registry = args.deployment.contracts.DatasetRegistry?.address;
  if (!registry) return undefined;
  const { publicClient, walletClient, chain, account } = args.modelOwner;
  const datasetIdOf = () =>
    publicClient.readContract({
      address: registry,
      abi: datasetRegistryAbi,
      functionName: "datasetIdOf",
      args: [DEVNET_DATASET_DIGEST],
    });
  let datasetId = await datasetIdOf();
  if (datasetId === 0n) {
    await args.modelOwner.transact("Registering the devnet demo dataset", () =>
      walletClient.writeContract({
        address: registry,
        abi: datasetRegistryAbi,
        functionName: "register",
        args: [DEVNET_DATASET_DIGEST, 0, 0n, "https://creativecommons.org/licenses/by/4.0/", "verity:devnet-demo"],
        chain,
        account,
      }),
    );
    datasetId = await datasetIdOf();
    await args.modelOwner.transact("Handing the demo dataset to its contributor", () =>
      walletClient.writeContract({
        address: registry,
        abi: datasetRegistryAbi,
        functionName: "transfer",
        args: [datasetId, args.contributor],
        chain,
        account,
      }),
    );
  }
  const modelRegistry = args.deployment.contracts.ModelRegistry.address;
  const credits = await publicClient.readContract({
    address: modelRegistry,
    abi: modelRegistryAbi,
    functionName: "datasetCredits",
    args: [args.modelId],
  });
  if (!credits.some((c) => c.datasetId === datasetId)) {
    await args.modelOwner.transact("Crediting the demo dataset on the devnet model", () =>
      walletClient.writeContract({
        address: modelRegistry,
        abi: modelRegistryAbi,
        functionName: "creditDataset",
        args: [args.modelId, datasetId, DEVNET_DATASET_SHARE_BPS],
        chain,
        account,
      }),
    );
  }
  return datasetId;
}
