import { modelRegistryAbi } from "@verity/contracts";
import { ConfigError, type Deployment } from "@verity/core";
import type { PublicClient } from "viem";

export type RegisteredModel = {
  modelId: bigint;
  name: string;
  owner: `0x${string}`;
  royaltyBps: number;
  weightsHash: `0x${string}`;
  tokenizerHash: `0x${string}`;
  licenceURI: string;
  registeredAt: number;
};

/** Every model of the deployment's ModelRegistry, by id (ids run from 1 to `modelCount`). */
export async function listModels(args: {
  publicClient: PublicClient;
  deployment: Deployment;
}): Promise<RegisteredModel[]> {
  const address = args.deployment.contracts.ModelRegistry.address;
  const count = await args.publicClient.readContract({ address, abi: modelRegistryAbi, functionName: "modelCount" });
  const out: RegisteredModel[] = [];
  for (let id = 1n; id <= count; id++) {
    const m = await args.publicClient.readContract({
      address,
      abi: modelRegistryAbi,
      functionName: "getModel",
      args: [id],
    });
    out.push({
      modelId: id,
      name: m.name,
      owner: m.owner,
      royaltyBps: Number(m.royaltyBps),
      weightsHash: m.weightsHash,
      tokenizerHash: m.tokenizerHash,
      licenceURI: m.licenceURI,
      registeredAt: Number(m.registeredAt),
    });
  }
  return out;
}

/** A model id from `--model`: a registered id, or the name of exactly one registered model. */
export async function resolveModel(args: {
  publicClient: PublicClient;
  deployment: Deployment;
  model: string;
}): Promise<RegisteredModel> {
  const models = await listModels(args);
  const wanted = args.model.trim();
  const matches = /^\d+$/.test(wanted)
    ? models.filter((m) => m.modelId === BigInt(wanted))
    : models.filter((m) => m.name === wanted);
  if (matches.length === 1 && matches[0]) return matches[0];
  if (matches.length > 1) {
    throw new ConfigError(`${matches.length} registered models are named ${wanted}`, {
      code: "invalid_parameter",
      hint: `Pass the model id instead: ${matches.map((m) => m.modelId).join(", ")} (see \`verity model list\`)`,
    });
  }
  throw new ConfigError(`No registered model ${JSON.stringify(wanted)}`, {
    code: "unknown_model",
    hint: "See `verity model list` for names and ids, or register it with `verity model register`",
  });
}
