/**
 * A "model + dataset" offering: a base model's engine served under a composite model id whose
 * ModelRegistry entry credits the dataset, so every claim of the offering's channels pays the
 * dataset on chain (`PaymentChannels.claim`), and every request retrieves from the dataset's corpus.
 */
import { datasetRegistryAbi, modelRegistryAbi, paymentChannelsAbi } from "@verity/contracts";
import { ConfigError, type Deployment } from "@verity/core";
import type { ModelIdentity } from "@verity/engine";
import { encodePacked, keccak256, type PublicClient } from "viem";
import { type Corpus, DEFAULT_TOP_K, loadCorpus } from "./retrieval.ts";
import { retrievalFee } from "./retrieval-fee.ts";

export type DatasetOffering = {
  datasetId: bigint;
  corpus: Corpus;
  /** `pricePerUse` from the DatasetRegistry (the dataset's terms). */
  pricePerUse: bigint;
  /** What each request adds to its charge and ceiling (`retrievalFee`). */
  fee: bigint;
  royaltyBps: bigint;
  shareBps: bigint;
  k: number;
};

/**
 * The identity a composite "model + dataset" is registered under: the base tokenizer (the engine
 * tokenizes as before) and `keccak256("verity-rag" ‖ base weights hash ‖ dataset digest)` for the
 * weights, so one base model and one dataset give one id anyone can recompute.
 */
export function compositeIdentity(args: { base: ModelIdentity; digest: `0x${string}` }): ModelIdentity {
  return {
    ...args.base,
    weightsHash: keccak256(
      encodePacked(["string", "bytes32", "bytes32"], ["verity-rag", args.base.weightsHash, args.digest]),
    ),
  };
}

/** Reads the dataset's digest and price from the DatasetRegistry and checks the local corpus against it. */
export async function loadDatasetCorpus(args: {
  publicClient: PublicClient;
  deployment: Deployment;
  datasetId: bigint;
  file: string;
}): Promise<{ corpus: Corpus; pricePerUse: bigint }> {
  const address = args.deployment.contracts.DatasetRegistry?.address;
  if (!address) {
    throw new ConfigError("This deployment has no DatasetRegistry", {
      code: "deployment_outdated",
      hint: "Deploy the data market contracts first",
    });
  }
  const dataset = await args.publicClient.readContract({
    address,
    abi: datasetRegistryAbi,
    functionName: "getDataset",
    args: [args.datasetId],
  });
  const corpus = loadCorpus({ datasetId: args.datasetId, digest: dataset.digest, file: args.file });
  return { corpus, pricePerUse: dataset.pricePerUse };
}

/**
 * Checks the composite model credits the dataset and prices the offering's per-request fee from the
 * royalty split the chain will apply (the royalty capped at 10⁴ − protocol fee, as claims cap it).
 */
export async function priceDatasetOffering(args: {
  publicClient: PublicClient;
  deployment: Deployment;
  modelId: bigint;
  corpus: Corpus;
  pricePerUse: bigint;
  k?: number;
}): Promise<DatasetOffering> {
  const [, royalty, payees] = await args.publicClient.readContract({
    address: args.deployment.contracts.ModelRegistry.address,
    abi: modelRegistryAbi,
    functionName: "royaltySplit",
    args: [args.modelId],
  });
  const feeBps = await args.publicClient.readContract({
    address: args.deployment.contracts.PaymentChannels.address,
    abi: paymentChannelsAbi,
    functionName: "protocolFeeBps",
  });
  const credit = payees.find((p) => p.datasetId === args.corpus.datasetId);
  if (!credit) {
    throw new ConfigError(`Model ${args.modelId} does not credit dataset ${args.corpus.datasetId}`, {
      code: "dataset_not_credited",
      hint: "Credit it with `verity model credit-dataset` before serving the offering",
    });
  }
  const cap = 10_000n - BigInt(feeBps);
  const royaltyBps = BigInt(royalty) < cap ? BigInt(royalty) : cap;
  const shareBps = BigInt(credit.shareBps);
  return {
    datasetId: args.corpus.datasetId,
    corpus: args.corpus,
    pricePerUse: args.pricePerUse,
    fee: retrievalFee({ pricePerUse: args.pricePerUse, royaltyBps, shareBps }),
    royaltyBps,
    shareBps,
    k: args.k ?? DEFAULT_TOP_K,
  };
}

/**
 * Everything a "model + dataset" offering checks before the provider listens or publishes anything:
 * the corpus against the dataset's digest (`dataset_digest_mismatch`), the composite model's
 * registration and its credit of the dataset (`dataset_not_credited`), and the fee.
 */
export async function openDatasetOffering(args: {
  publicClient: PublicClient;
  deployment: Deployment;
  base: ModelIdentity;
  datasetId: bigint;
  file: string;
  k?: number;
}): Promise<{ identity: ModelIdentity; modelId: bigint; offering: DatasetOffering }> {
  const { corpus, pricePerUse } = await loadDatasetCorpus(args);
  const identity = compositeIdentity({ base: args.base, digest: corpus.digest });
  const modelId = await args.publicClient.readContract({
    address: args.deployment.contracts.ModelRegistry.address,
    abi: modelRegistryAbi,
    functionName: "modelIdOf",
    args: [identity.weightsHash, identity.tokenizerHash],
  });
  if (modelId === 0n) {
    throw new ConfigError(`No composite model of this base model and dataset ${args.datasetId} is registered`, {
      code: "dataset_not_credited",
      hint: "Register it with `verity model register --dataset` and credit the dataset",
      details: { weightsHash: identity.weightsHash },
    });
  }
  const offering = await priceDatasetOffering({
    publicClient: args.publicClient,
    deployment: args.deployment,
    modelId,
    corpus,
    pricePerUse,
    ...(args.k === undefined ? {} : { k: args.k }),
  });
  return { identity, modelId, offering };
}
