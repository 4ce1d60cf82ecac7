/**
 * Maps a receipt's on-chain model id to a loaded engine by identity: the ModelRegistry id of each
 * engine's (weights hash, tokenizer hash). A model id no loaded engine has is `model_not_served`
 * when it is registered and `unknown_model` when it is not.
 */
import { type ChainClients, toChainError } from "@verity/chain";
import { modelRegistryAbi } from "@verity/contracts";
import type { Engine } from "@verity/engine";
import { AuditRejected } from "./validator-reasons.ts";

export type ServedModel = { name: string; modelId: bigint; engine: Engine };

export function createModelResolver(options: {
  publicClient: ChainClients["publicClient"];
  modelRegistry: `0x${string}`;
  engines: readonly Engine[];
}) {
  const byId = new Map<bigint, ServedModel>();
  /** Engines whose model was not registered when last looked up. */
  let unregistered = [...options.engines];

  async function lookup(engine: Engine): Promise<bigint> {
    return options.publicClient.readContract({
      address: options.modelRegistry,
      abi: modelRegistryAbi,
      functionName: "modelIdOf",
      args: [engine.identity.weightsHash, engine.identity.tokenizerHash],
    });
  }

  /** Looks up the engines not yet found in the registry (models may be registered after start). */
  async function refresh(): Promise<void> {
    const still: Engine[] = [];
    for (const engine of unregistered) {
      const modelId = await lookup(engine);
      if (modelId === 0n) still.push(engine);
      else if (!byId.has(modelId)) byId.set(modelId, { name: engine.name, modelId, engine });
    }
    unregistered = still;
  }

  async function isRegistered(modelId: bigint): Promise<boolean> {
    try {
      await options.publicClient.readContract({
        address: options.modelRegistry,
        abi: modelRegistryAbi,
        functionName: "getModel",
        args: [modelId],
      });
      return true;
    } catch (error) {
      const chainError = toChainError("Reading the model", error);
      if (chainError.code === "unknown_model") return false;
      throw chainError;
    }
  }

  return {
    refresh,
    /** The engine serving `modelId`, or an `AuditRejected` with `model_not_served` / `unknown_model`. */
    async resolve(modelId: bigint): Promise<ServedModel> {
      let served = byId.get(modelId);
      if (!served && unregistered.length > 0) {
        await refresh();
        served = byId.get(modelId);
      }
      if (served) return served;
      if (await isRegistered(modelId)) {
        throw new AuditRejected(`This validator does not run model ${modelId}`, {
          code: "model_not_served",
          hint: "Send the sample to a validator that runs this model (see its registration file's models)",
          details: { modelId: modelId.toString(), served: [...byId.keys()].map(String) },
        });
      }
      throw new AuditRejected(`Model ${modelId} is not registered in the ModelRegistry`, {
        code: "unknown_model",
        details: { modelId: modelId.toString() },
      });
    },
    served(): ServedModel[] {
      return [...byId.values()];
    },
  };
}

export type ModelResolver = ReturnType<typeof createModelResolver>;
