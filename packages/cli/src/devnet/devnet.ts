import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  connectChain,
  createEdrChain,
  createRpcServer,
  type DevnetAccount,
  deploy,
  devnetAccounts,
  writeDeployment,
} from "@verity/chain";
import type { Deployment } from "@verity/core";
import type { Progress } from "../progress.ts";
import { startDevnetGateway } from "./devnet-gateway.ts";
import { DEVNET_MODELS, startDevnetProviders } from "./devnet-providers.ts";
import { fundAccounts } from "./fund-accounts.ts";

export type DevnetOptions = {
  host?: string;
  port?: number;
  chainId?: number;
  /** Folder for the deployment file and role stores (default `.verity/devnet`). */
  stateDir?: string;
  /** In-process providers to start (default 2). */
  providers?: number;
  /** Ports: chain on `portBase`, providers on `portBase + 1…` (default: chain 8545, providers on free ports). */
  portBase?: number;
  progress: Progress;
  /** Notable events after ready (claims, …), one object each. */
  onEvent?: (event: Record<string, unknown>) => void;
};

export type DevnetReady = {
  event: "ready";
  rpcUrl: string;
  chainId: number;
  deploymentFile: string;
  deployment: Deployment;
  gatewayUrl: string;
  gatewayApiKey: string;
  providers: {
    agentId: string;
    url: string;
    address: `0x${string}`;
    model: string;
    modelId: string;
    priceIn: string;
    priceOut: string;
  }[];
  accounts: { role: string; name: string; address: `0x${string}`; privateKey: `0x${string}` }[];
};

/**
 * The whole network on one machine: an embedded Hardhat EDR chain over JSON-RPC, the contracts
 * deployed, and funded test accounts. Later roles (providers, gateway, validators, explorer) attach here.
 */
export function createDevnet(options: DevnetOptions) {
  const stops: (() => Promise<void>)[] = [];
  const accounts: DevnetAccount[] = devnetAccounts();
  const found = accounts.find((a) => a.role === "deployer");
  if (!found) throw new Error("devnet layout has no deployer");
  const deployer: DevnetAccount = found;

  async function start(): Promise<DevnetReady> {
    const { progress } = options;
    const stateDir = resolve(options.stateDir ?? join(".verity", "devnet"));
    mkdirSync(stateDir, { recursive: true });
    const chain = await progress.step("start embedded chain (Hardhat EDR)", () =>
      createEdrChain({
        ...(options.chainId === undefined ? {} : { chainId: options.chainId }),
        accounts: accounts.map((a) => ({ privateKey: a.privateKey, balance: 10_000n * 10n ** 18n })),
      }),
    );
    stops.push(() => chain.close());
    const rpc = createRpcServer({
      provider: chain.provider,
      host: options.host ?? "127.0.0.1",
      port: options.portBase ?? options.port ?? 8545,
    });
    const rpcUrl = await progress.step(`serve JSON-RPC on ${options.host ?? "127.0.0.1"}:${options.port ?? 8545}`, () =>
      rpc.start(),
    );
    stops.push(() => rpc.stop());
    const deployment = await progress.step("deploy contracts", () =>
      deploy({ provider: chain.provider, deployer: deployer.privateKey, expectedChainId: chain.chainId }),
    );
    const deploymentFile = join(stateDir, "deployment.json");
    writeDeployment(deploymentFile, deployment);
    const clients = await connectChain({ provider: chain.provider, account: deployer.privateKey });
    await progress.step(`fund ${accounts.length} test accounts with TestUSD`, () =>
      fundAccounts({ clients, deployment, accounts }),
    );
    const count = options.providers ?? 2;
    const modelOwner = accounts.find((a) => a.role === "modelOwner");
    if (!modelOwner) throw new Error("devnet layout has no model owner");
    const started = await progress.step(`start ${count} providers serving ${DEVNET_MODELS.join(", ")}`, async () =>
      startDevnetProviders({
        count,
        accounts,
        deployment,
        chain: chain.provider,
        host: options.host ?? "127.0.0.1",
        portBase: options.portBase,
        stateDir,
        modelOwner: await connectChain({ provider: chain.provider, account: modelOwner.privateKey }),
        onClaim: (agentId, r) =>
          options.onEvent?.({
            event: "claim",
            agentId: agentId.toString(),
            txHash: r.txHash,
            channels: r.channels,
            amount: r.amount.toString(),
          }),
      }),
    );
    for (const provider of started.providers) stops.push(() => provider.stop());
    for (const engine of started.engines) stops.unshift(() => engine.close());
    const client = accounts.find((a) => a.name === "client-1");
    if (!client) throw new Error("devnet layout has no client-1");
    const gateway = await progress.step("start the gateway and fund a devnet API key", async () =>
      startDevnetGateway({
        accounts,
        deployment,
        chain: chain.provider,
        host: options.host ?? "127.0.0.1",
        port: (options.portBase ?? options.port ?? 8545) === 0 ? 0 : (options.portBase ?? options.port ?? 8545) + 1,
        stateDir,
        client: await connectChain({ provider: chain.provider, account: client.privateKey }),
      }),
    );
    stops.push(() => gateway.gateway.stop());
    return {
      event: "ready",
      rpcUrl,
      chainId: chain.chainId,
      deploymentFile,
      deployment,
      gatewayUrl: gateway.url,
      gatewayApiKey: gateway.apiKey,
      providers: started.infos.flatMap((info) =>
        info.models.map((m) => ({
          agentId: info.agentId.toString(),
          url: info.url,
          address: info.address,
          model: m.name,
          modelId: m.modelId.toString(),
          priceIn: m.inputPricePerMTok.toString(),
          priceOut: m.outputPricePerMTok.toString(),
        })),
      ),
      accounts: accounts.map((a) => ({ role: a.role, name: a.name, address: a.address, privateKey: a.privateKey })),
    };
  }

  async function stop(): Promise<void> {
    while (stops.length > 0) await stops.pop()?.();
  }

  return { start, stop };
}
