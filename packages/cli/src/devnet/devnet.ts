import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  connectChain,
  createEdrChain,
  createRpcServer,
  type DevnetAccount,
  deploy,
  devnetAccounts,
  installX402BatchSettlement,
  readDeployment,
  verifyDeployment,
  writeDeployment,
  X402_INSTALL_CHAIN_ID,
} from "@verity/chain";
import { ConfigError, type Deployment } from "@verity/core";
import { defaultModelCacheDir, type Engine } from "@verity/engine";
import type { Progress } from "../progress.ts";
import { startAgentDemo } from "./agent-demo.ts";
import { startDevnetGateway } from "./devnet-gateway.ts";
import { devnetPorts, withPortHint } from "./devnet-ports.ts";
import {
  DEVNET_CHEAT_MODEL,
  DEVNET_MODELS,
  type DevnetProvider,
  prepareDevnetModels,
  startDevnetProviders,
} from "./devnet-providers.ts";
import { openDevnetState } from "./devnet-state.ts";
import { createDevnetTraffic, type DevnetTraffic, type TrafficStats } from "./devnet-traffic.ts";
import { type DevnetValidatorInfo, startDevnetValidators } from "./devnet-validators.ts";
import { fundAccounts } from "./fund-accounts.ts";

/** The state folder used when none is given; it is wiped at every start (`fresh`). */
export const DEFAULT_DEVNET_STATE_DIR = join(".verity", "devnet");

/** Validators the devnet starts: a committee of three plus the challenger, who never judges its own case. */
export const DEVNET_VALIDATORS = 4;

/** Share of the gateway's paid answers sent for audit on the devnet (see docs/DETERRENCE.md). */
export const DEVNET_AUDIT_P = 0.02;

/**
 * Contract parameters of a fresh devnet: short commit and reveal windows (30 s each), so a challenge
 * is decided within about a minute of chain time instead of the two days a public deployment allows.
 */
export const DEVNET_DEPLOY_PARAMS = { commitWindow: 30n, revealWindow: 30n } as const;

export type DevnetOptions = {
  host?: string;
  /** JSON-RPC port (default 8545); the gateway takes the next one. 0 picks free ports. */
  port?: number;
  /** Chain on `portBase`, gateway on `portBase + 1`, providers from `portBase + 10`, validators from `portBase + 20` (overrides `port`). */
  portBase?: number;
  chainId?: number;
  /** Folder for the chain journal, deployment file and node stores (default `.verity/devnet`). */
  stateDir?: string;
  /** Wipe the state folder first instead of resuming it. */
  fresh?: boolean;
  /** In-process providers to start (default 3), each a bit dearer than the last. */
  providers?: number;
  /** The last `cheaters` providers are dishonest (default 0). */
  cheaters?: number;
  /** Model spec cheaters substitute (default `test:verity-tiny-q4`). */
  cheatModel?: string;
  /** Fraction of a cheater's paid requests it substitutes (default 0.5). */
  cheatRate?: number;
  /** Validators to start (default 4: a committee of three plus the challenger). */
  validators?: number;
  /** Mean milliseconds between each validator's canary requests (default 45 s; 0 turns them off). */
  canaryIntervalMs?: number;
  /** Share of the gateway's paid answers it sends to a validator for audit (default 0.02). */
  auditP?: number;
  /** Built-in paid traffic through the gateway, in requests per second (off when undefined). */
  traffic?: number;
  /** Also start the agent demo: a "summariser" agent and a "research" agent that hires it (needs ≥ 2 and ≤ 4 providers). */
  agents?: boolean;
  /** Builds (or finds) the explorer page and resolves with its dist folder; the gateway serves it at `/`. */
  explorer?: () => Promise<string>;
  progress: Progress;
  /** Notable events after ready (claims, challenges, votes, slashes …), one object each. */
  onEvent?: (event: Record<string, unknown>) => void;
};

export type DevnetProviderInfo = {
  agentId: string;
  url: string;
  address: `0x${string}`;
  model: string;
  modelId: string;
  priceIn: string;
  priceOut: string;
  /** A dishonest provider (`--cheaters`). */
  cheater: boolean;
};

export type DevnetReady = {
  event: "ready";
  rpcUrl: string;
  chainId: number;
  stateDir: string;
  /** Whether the chain and stores were resumed from `stateDir`. */
  restored: boolean;
  deploymentFile: string;
  deployment: Deployment;
  gatewayUrl: string;
  gatewayApiKey: string;
  explorerUrl: string;
  providers: DevnetProviderInfo[];
  validators: DevnetValidatorInfo[];
  /** Audit sampling of the gateway's traffic: probability and the intake it posts to. */
  audit: { p: number; validatorUrl: string | null };
  accounts: { role: string; name: string; address: `0x${string}`; privateKey: `0x${string}` }[];
  traffic: { rps: number } | null;
  /** The agent demo's card URLs, when started with `agents`. */
  agents?: { research: string; summariser: string };
  /** Milliseconds `start()` took. */
  startMs: number;
};

/**
 * The whole network on one machine: an embedded Hardhat EDR chain over JSON-RPC (journaled in the
 * state folder, so it survives restarts), the contracts, funded test accounts, providers, the
 * gateway with a funded API key and the explorer page. A resumed state folder is verified, not
 * redeployed or funded again.
 */
export function createDevnet(options: DevnetOptions) {
  const stops: (() => Promise<void> | void)[] = [];
  const engines: Engine[] = [];
  const accounts: DevnetAccount[] = devnetAccounts();
  const role = (name: string): DevnetAccount => {
    const found = accounts.find((a) => a.name === name || a.role === name);
    if (!found) throw new Error(`devnet layout has no ${name} account`);
    return found;
  };
  let traffic: DevnetTraffic | undefined;
  let stopped: Promise<TrafficStats | undefined> | undefined;
  let running: DevnetProvider[] = [];

  async function start(): Promise<DevnetReady> {
    const started = performance.now();
    const { progress } = options;
    const host = options.host ?? "127.0.0.1";
    const chainId = options.chainId ?? 31337;
    const ports = devnetPorts(options);
    const emit = (event: Record<string, unknown>) => options.onEvent?.(event);
    const explorerDist = options.explorer?.();
    explorerDist?.catch(() => {}); // awaited (and reported) in the explorer step

    const state = openDevnetState({
      dir: resolve(options.stateDir ?? DEFAULT_DEVNET_STATE_DIR),
      chainId,
      fresh: options.fresh === true,
    });
    stops.push(() => state.release());
    const chain = await progress.step(
      state.existing
        ? `restore the chain from ${state.chainDir} (journal replay)`
        : `start the chain (Hardhat EDR, chain ${chainId}, journaled in ${state.chainDir})`,
      () =>
        createEdrChain({
          chainId,
          accounts: accounts.map((a) => ({ privateKey: a.privateKey, balance: 10_000n * 10n ** 18n })),
          journalDir: state.chainDir,
        }),
    );
    stops.push(() => chain.close());
    const replay = chain.persistence?.replay;
    if (replay && replay.entries > 0) {
      progress.info(`  replayed ${replay.entries} journal entries to block ${replay.blocks} in ${replay.ms} ms`);
    }
    const rpc = createRpcServer({ provider: chain.provider, host, port: ports.chain });
    const rpcUrl = await progress.step(
      `serve JSON-RPC on ${host}:${ports.chain === 0 ? "a free port" : ports.chain}`,
      () => withPortHint("JSON-RPC", () => rpc.start()),
    );
    stops.push(() => rpc.stop());

    const deployer = await connectChain({ provider: chain.provider, account: role("deployer").privateKey });
    const restored = chain.persistence?.restored === true;
    const resumed = restored && existsSync(state.deploymentFile);
    const deployment = resumed
      ? await progress.step(`verify the deployment in ${state.deploymentFile}`, async () => {
          const saved = readDeployment(state.deploymentFile);
          await verifyDeployment({ publicClient: deployer.publicClient, deployment: saved });
          // States saved before the x402 contracts were part of the deployment get them now.
          if (chainId === X402_INSTALL_CHAIN_ID) await installX402BatchSettlement({ client: deployer.publicClient });
          return saved;
        })
      : await progress.step("deploy the contracts", async () => {
          const fresh = await deploy({
            provider: chain.provider,
            deployer: deployer.account,
            expectedChainId: chainId,
            params: DEVNET_DEPLOY_PARAMS,
          });
          writeDeployment(state.deploymentFile, fresh);
          return fresh;
        });

    if (state.read().funded) {
      await progress.step(`keep the ${accounts.length} funded test accounts`, async () => {});
    } else {
      await progress.step(`fund ${accounts.length} test accounts with TestUSD`, () =>
        fundAccounts({ clients: deployer, deployment, accounts }),
      );
      state.update({ funded: true });
    }

    const count = options.providers ?? 3;
    const cheaters = options.cheaters ?? 0;
    const cheatModel = options.cheatModel ?? DEVNET_CHEAT_MODEL;
    const models = await progress.step(`test models (generated once, cached in ${defaultModelCacheDir()})`, () =>
      prepareDevnetModels(cheaters > 0 ? { cheatModel } : {}),
    );
    progress.info(`  ${models.join(", ")}`);
    const providers = await progress.step(
      `start ${count} provider${count === 1 ? "" : "s"} serving ${DEVNET_MODELS.join(", ")}${cheaters > 0 ? ` (${cheaters} cheating)` : ""}`,
      async () =>
        withPortHint("provider", async () =>
          startDevnetProviders({
            count,
            cheaters,
            cheatModel,
            ...(options.cheatRate === undefined ? {} : { cheatRate: options.cheatRate }),
            accounts,
            deployment,
            chain: chain.provider,
            host,
            portBase: ports.providerBase,
            stateDir: state.dir,
            modelOwner: await connectChain({ provider: chain.provider, account: role("modelOwner").privateKey }),
            own: (resource) => {
              if ("engine" in resource) engines.push(resource.engine);
              else if ("oracle" in resource) stops.push(() => resource.oracle.stop());
              else stops.push(() => resource.provider.stop());
            },
            onClaim: (agentId, r) =>
              emit({
                event: "claim",
                agentId: agentId.toString(),
                txHash: r.txHash,
                channels: r.channels,
                amount: r.amount.toString(),
              }),
          }),
        ),
    );

    running = providers;
    const validatorCount = options.validators ?? DEVNET_VALIDATORS;
    const validators =
      validatorCount === 0
        ? []
        : await progress.step(
            `start ${validatorCount} validator${validatorCount === 1 ? "" : "s"} (stake, register, audit ${DEVNET_MODELS.join(", ")})`,
            async () =>
              withPortHint("validator", () =>
                startDevnetValidators({
                  count: validatorCount,
                  accounts,
                  deployment,
                  chain: chain.provider,
                  host,
                  portBase: ports.providerBase,
                  stateDir: state.dir,
                  ...(options.canaryIntervalMs === undefined ? {} : { canaryIntervalMs: options.canaryIntervalMs }),
                  own: (resource) => {
                    if ("engine" in resource) engines.push(resource.engine);
                    else stops.push(() => resource.validator.stop());
                  },
                  onEvent: (event) => {
                    // Passing audits are routine; failures, challenges, votes and verdicts are news.
                    if (event.event === "audit" && event.pass === true) return;
                    emit(event);
                  },
                  onError: (name, error) =>
                    emit({ event: "warning", validator: name, message: (error as Error)?.message ?? String(error) }),
                }),
              ),
          );
    const auditP = options.auditP ?? DEVNET_AUDIT_P;
    const validatorUrl = validators[0] ? `${validators[0].info.url}/v1/audits` : null;

    let distDir: string | undefined;
    if (explorerDist) {
      const built = await progress.step("explorer page", () =>
        explorerDist.then(
          (dir) => ({ dir, reason: undefined }),
          (error: unknown) => ({ dir: undefined, reason: String((error as Error)?.message ?? error).split("\n")[0] }),
        ),
      );
      distDir = built.dir;
      if (built.reason) progress.info(`  the explorer page is unavailable (${built.reason}); its data API is served`);
    }
    const record = state.read();
    const gateway = await progress.step(
      record.apiKey === undefined ? "start the gateway and fund a devnet API key" : "start the gateway (API key kept)",
      async () =>
        withPortHint("gateway", async () =>
          startDevnetGateway({
            accounts,
            deployment,
            chain: chain.provider,
            host,
            port: ports.gateway,
            stateDir: state.dir,
            client: await connectChain({ provider: chain.provider, account: role("client-1").privateKey }),
            ...(record.apiKey === undefined ? {} : { apiKey: record.apiKey }),
            ...(distDir === undefined ? {} : { explorer: { distDir } }),
            ...(validatorUrl === null ? {} : { audit: { p: auditP, validatorUrl } }),
            onRefund: (r) =>
              emit({
                event: "refund_credited",
                ...JSON.parse(JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? v.toString() : v))),
              }),
            onStarted: (g) => stops.push(() => g.stop()),
          }),
        ),
    );
    state.update({ apiKey: gateway.apiKey });
    const explorerUrl = `${gateway.url}/`;
    progress.info(`  explorer ${explorerUrl}`);

    let agents: DevnetReady["agents"];
    if (options.agents === true) {
      if (providers.length < 2 || providers.length > 4) {
        throw new ConfigError("The agent demo needs 2 to 4 providers (its agents use provider-5 and provider-6)", {
          code: "invalid_parameter",
          hint: "Start with --providers 2, 3 or 4",
        });
      }
      const demo = await progress.step("start the agent demo (summariser and research agents)", () =>
        startAgentDemo({
          deployment,
          provider: chain.provider,
          summariserKey: role("provider-5").privateKey,
          researchKey: role("provider-6").privateKey,
          providers: providers.slice(0, 2).map((p) => p.info.agentId),
          model: DEVNET_MODELS[0],
          dataDir: join(state.dir, "agents"),
          stake: 500_000_000n,
          host,
        }),
      );
      stops.push(() => demo.stop());
      agents = {
        research: `${demo.research.url}/.well-known/agent-card.json`,
        summariser: `${demo.summariser.url}/.well-known/agent-card.json`,
      };
      progress.info(`  research agent ${agents.research}`);
    }

    if (options.traffic !== undefined) {
      traffic = createDevnetTraffic({
        gatewayUrl: gateway.url,
        apiKey: gateway.apiKey,
        rps: options.traffic,
        model: DEVNET_MODELS[0],
      });
      traffic.start();
    }
    return {
      event: "ready",
      rpcUrl,
      chainId,
      stateDir: state.dir,
      restored,
      deploymentFile: state.deploymentFile,
      deployment,
      gatewayUrl: gateway.url,
      gatewayApiKey: gateway.apiKey,
      explorerUrl,
      providers: providers.flatMap(({ info, cheater }) =>
        info.models.map((m) => ({
          agentId: info.agentId.toString(),
          url: info.url,
          address: info.address,
          model: m.name,
          modelId: m.modelId.toString(),
          priceIn: m.inputPricePerMTok.toString(),
          priceOut: m.outputPricePerMTok.toString(),
          cheater,
        })),
      ),
      validators: validators.map((v) => v.info),
      audit: { p: validatorUrl === null ? 0 : auditP, validatorUrl },
      accounts: accounts.map((a) => ({ role: a.role, name: a.name, address: a.address, privateKey: a.privateKey })),
      traffic: traffic ? { rps: traffic.rps } : null,
      ...(agents ? { agents } : {}),
      startMs: Math.round(performance.now() - started),
    };
  }

  /**
   * Stops everything in reverse order of start: traffic (waiting for its requests), the gateway,
   * the providers (in-flight requests finish, then a final claim), the JSON-RPC endpoint and the
   * chain (after its journal is on disk), the engines. Resolves with the traffic counts, if any.
   */
  function stop(): Promise<TrafficStats | undefined> {
    stopped ??= (async () => {
      const counts = await traffic?.stop();
      while (stops.length > 0) {
        try {
          await stops.pop()?.();
        } catch (error) {
          options.onEvent?.({ event: "warning", message: `while stopping: ${(error as Error)?.message ?? error}` });
        }
      }
      for (const engine of engines.splice(0)) await engine.close();
      return counts;
    })();
    return stopped;
  }

  return {
    start,
    stop,
    /** Counts of the built-in traffic so far (undefined when it is off). */
    trafficStats: (): TrafficStats | undefined => traffic?.stats(),
    /** Simulation ground truth: answers the cheating providers generated with their substitute, by agent. */
    substitutedAnswers: () =>
      running.flatMap(({ provider, info }) =>
        provider.substitutedAnswers().map((a) => ({ ...a, agentId: info.agentId.toString() })),
      ),
  };
}

export type Devnet = ReturnType<typeof createDevnet>;
