import { join } from "node:path";
import type { ChainClients, DevnetAccount } from "@verity/chain";
import { modelRegistryAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import { type Engine, loadModelSpec } from "@verity/engine";
import { createProvider, type Provider, type ProviderInfo } from "@verity/provider";
import type { EIP1193Provider } from "viem";
import { privateKeyToAccount } from "viem/accounts";

/** Models every devnet serves (generated locally, registered by the devnet's model owner). */
export const DEVNET_MODELS = ["verity-tiny"] as const;

/** Prices of the i-th devnet provider, per 1M tokens in TestUSD base units: each one a bit dearer. */
export function devnetPrice(index: number): { input: bigint; output: bigint } {
  return { input: 500_000n + 250_000n * BigInt(index), output: 1_000_000n + 500_000n * BigInt(index) };
}

/** Registers the devnet models in the ModelRegistry as the model owner (5 % royalty), once. */
async function registerDevnetModels(args: {
  deployment: Deployment;
  modelOwner: ChainClients;
  engines: readonly Engine[];
}) {
  const address = args.deployment.contracts.ModelRegistry.address;
  const { publicClient, walletClient } = args.modelOwner;
  for (const engine of args.engines) {
    const { weightsHash, tokenizerHash } = engine.identity;
    const existing = await publicClient.readContract({
      address,
      abi: modelRegistryAbi,
      functionName: "modelIdOf",
      args: [weightsHash, tokenizerHash],
    });
    if (existing !== 0n) continue;
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
}

/** Starts `count` in-process providers on the devnet chain, each with its own key, prices and store. */
export async function startDevnetProviders(args: {
  count: number;
  accounts: readonly DevnetAccount[];
  deployment: Deployment;
  chain: EIP1193Provider;
  host: string;
  portBase: number | undefined;
  stateDir: string;
  modelOwner: ChainClients;
  onClaim?: (agentId: bigint, report: { txHash: `0x${string}`; channels: number; amount: bigint }) => void;
}): Promise<{ providers: Provider[]; infos: ProviderInfo[]; engines: Engine[] }> {
  const providerAccounts = args.accounts.filter((a) => a.role === "provider");
  if (args.count > providerAccounts.length)
    throw new Error(`the devnet has ${providerAccounts.length} provider accounts`);
  const providers: Provider[] = [];
  const infos: ProviderInfo[] = [];
  const engines: Engine[][] = [];
  for (let i = 0; i < args.count; i++) {
    engines.push(await Promise.all(DEVNET_MODELS.map((spec) => loadModelSpec({ spec: `test:${spec}` }))));
  }
  await registerDevnetModels({ deployment: args.deployment, modelOwner: args.modelOwner, engines: engines[0] ?? [] });
  for (let i = 0; i < args.count; i++) {
    const account = providerAccounts[i] as DevnetAccount;
    const price = devnetPrice(i);
    const models = (engines[i] ?? []).map((engine) => ({
      engine,
      inputPricePerMTok: price.input,
      outputPricePerMTok: price.output,
      maxOutputTokens: 512,
    }));
    let agentId = 0n;
    const provider = createProvider({
      deployment: args.deployment,
      provider: args.chain,
      account: privateKeyToAccount(account.privateKey),
      models,
      stake: 500_000_000n,
      host: args.host,
      port: args.portBase === undefined ? 0 : args.portBase + 10 + i,
      dataDir: join(args.stateDir, account.name),
      claim: { minValue: 1_000_000n, maxAgeMs: 60_000 },
      name: `devnet ${account.name}`,
      onClaim: (report) => args.onClaim?.(agentId, report),
    });
    const info = await provider.start();
    agentId = info.agentId;
    providers.push(provider);
    infos.push(info);
  }
  return { providers, infos, engines: engines.flat() };
}
