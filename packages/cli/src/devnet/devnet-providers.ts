import { join } from "node:path";
import { type ChainClients, createNativeAccount, type DevnetAccount } from "@verity/chain";
import { modelRegistryAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import { type Engine, ensureTestModel, isTestModelName, loadModelSpec } from "@verity/engine";
import { createOracleNode, createProvider, type OracleNode, type Provider, type ProviderInfo } from "@verity/provider";
import type { EIP1193Provider } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { creditDevnetDataset } from "./devnet-datasets.ts";

/** Models every devnet serves (generated locally, registered by the devnet's model owner). */
export const DEVNET_MODELS = ["verity-tiny"] as const;

/** Default engine a dishonest devnet provider substitutes (same tokenizer, quantised weights). */
export const DEVNET_CHEAT_MODEL = "test:verity-tiny-q4";

/**
 * Generates the devnet's test models (and a test cheat model) into the model cache once; later
 * starts find them there. Returns the model names.
 */
export async function prepareDevnetModels(args: { cheatModel?: string }): Promise<string[]> {
  const names: string[] = [...DEVNET_MODELS];
  const cheat = args.cheatModel?.startsWith("test:") ? args.cheatModel.slice(5) : args.cheatModel;
  if (cheat !== undefined && isTestModelName(cheat) && !names.includes(cheat)) names.push(cheat);
  for (const name of names) await ensureTestModel({ name });
  return names;
}

/** Prices of the i-th devnet provider, per 1M tokens in TestUSD base units: each one a bit dearer. */
export function devnetPrice(index: number): { input: bigint; output: bigint } {
  return { input: 500_000n + 250_000n * BigInt(index), output: 1_000_000n + 500_000n * BigInt(index) };
}

/**
 * Registers the devnet models in the ModelRegistry as the model owner (5 % royalty), once, and
 * credits the demo dataset (owned by `contributor`) on each of them.
 */
async function registerDevnetModels(args: {
  deployment: Deployment;
  modelOwner: ChainClients;
  engines: readonly Engine[];
  contributor: `0x${string}`;
}) {
  const address = args.deployment.contracts.ModelRegistry.address;
  const { publicClient, walletClient } = args.modelOwner;
  for (const engine of args.engines) {
    const { weightsHash, tokenizerHash } = engine.identity;
    const modelIdOf = () =>
      publicClient.readContract({
        address,
        abi: modelRegistryAbi,
        functionName: "modelIdOf",
        args: [weightsHash, tokenizerHash],
      });
    if ((await modelIdOf()) === 0n) {
      await args.modelOwner.transact(`Registering model ${engine.name}`, () =>
        walletClient.writeContract({
          address,
          abi: modelRegistryAbi,
          functionName: "registerModel",
          args: [weightsHash, tokenizerHash, 500, "https://verity.example/licences/test-model", engine.name],
          chain: args.modelOwner.chain,
          account: args.modelOwner.account,
        }),
      );
    }
    await creditDevnetDataset({
      deployment: args.deployment,
      modelOwner: args.modelOwner,
      modelId: await modelIdOf(),
      contributor: args.contributor,
    });
  }
}

/** The devnet account that owns the demo dataset: the last client (devnet traffic pays from the first ones). */
export function devnetContributor(accounts: readonly DevnetAccount[]): `0x${string}` {
  const clients = accounts.filter((a) => a.role === "client");
  const last = clients.at(-1);
  if (!last) throw new Error("the devnet has no client accounts");
  return last.address;
}

export type DevnetProvider = { provider: Provider; info: ProviderInfo; cheater: boolean };

/**
 * Starts `count` in-process providers on the devnet chain, each with its own key, prices and store.
 * The last `cheaters` of them are dishonest: on a fraction `cheatRate` of paid requests they generate
 * with `cheatModel` while charging and receipting the model they offer. Everything started is handed
 * to `own` (engines to close, providers to stop) as soon as it runs, so a failure half-way leaks nothing.
 */
export async function startDevnetProviders(args: {
  count: number;
  cheaters?: number;
  /** Model spec the cheaters substitute (default `test:verity-tiny-q4`). */
  cheatModel?: string;
  /** Fraction of a cheater's paid requests it substitutes (default 0.5). */
  cheatRate?: number;
  accounts: readonly DevnetAccount[];
  deployment: Deployment;
  chain: EIP1193Provider;
  host: string;
  portBase: number | undefined;
  stateDir: string;
  modelOwner: ChainClients;
  own: (resource: { engine: Engine } | { provider: Provider } | { oracle: OracleNode }) => void;
  onClaim?: (agentId: bigint, report: { txHash: `0x${string}`; channels: number; amount: bigint }) => void;
  onError?: (agentId: bigint, error: unknown) => void;
}): Promise<DevnetProvider[]> {
  const providerAccounts = args.accounts.filter((a) => a.role === "provider");
  if (args.count > providerAccounts.length)
    throw new Error(`the devnet has ${providerAccounts.length} provider accounts`);
  const cheaters = args.cheaters ?? 0;
  const load = async (spec: string) => {
    const engine = await loadModelSpec({ spec });
    args.own({ engine });
    return engine;
  };
  const started: DevnetProvider[] = [];
  for (let i = 0; i < args.count; i++) {
    const account = providerAccounts[i] as DevnetAccount;
    const price = devnetPrice(i);
    const cheater = i >= args.count - cheaters;
    const engines = await Promise.all(DEVNET_MODELS.map((name) => load(`test:${name}`)));
    const substitute = cheater ? await load(args.cheatModel ?? DEVNET_CHEAT_MODEL) : undefined;
    if (i === 0) {
      await registerDevnetModels({
        deployment: args.deployment,
        modelOwner: args.modelOwner,
        engines,
        contributor: devnetContributor(args.accounts),
      });
    }
    let agentId = 0n;
    const provider = createProvider({
      deployment: args.deployment,
      provider: args.chain,
      account: createNativeAccount(account.privateKey),
      models: engines.map((engine) => ({
        engine,
        inputPricePerMTok: price.input,
        outputPricePerMTok: price.output,
        maxOutputTokens: 512,
        ...(substitute ? { substitute: { engine: substitute, rate: args.cheatRate ?? 0.5 } } : {}),
      })),
      stake: 500_000_000n,
      host: args.host,
      port: args.portBase === undefined ? 0 : args.portBase + 10 + i,
      dataDir: join(args.stateDir, account.name),
      claim: { minValue: 1_000_000n, maxAgeMs: 60_000 },
      name: `devnet ${account.name}`,
      onClaim: (report) => args.onClaim?.(agentId, report),
      onError: (error) => args.onError?.(agentId, error),
    });
    args.own({ provider });
    const info = await provider.start();
    agentId = info.agentId;
    started.push({ provider, info, cheater });
    if (i === 0 && !cheater) {
      // The first honest provider also answers InferenceOracle requests (`verity oracle serve` in-process).
      const oracle = createOracleNode({
        deployment: args.deployment,
        provider: args.chain,
        account: privateKeyToAccount(account.privateKey),
        agentId,
        engines,
        pollMs: 500,
        onError: (error) => args.onError?.(agentId, error),
      });
      args.own({ oracle });
      await oracle.start();
    }
  }
  return started;
}
