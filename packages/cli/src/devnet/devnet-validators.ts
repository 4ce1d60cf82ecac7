import { join } from "node:path";
import type { DevnetAccount } from "@verity/chain";
import type { Deployment } from "@verity/core";
import { type Engine, loadModelSpec } from "@verity/engine";
import { createValidator, type Validator, type ValidatorEvent } from "@verity/validator";
import type { EIP1193Provider } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { DEVNET_MODELS } from "./devnet-providers.ts";

/** Cheaper variants the devnet validators test each model against. */
export const DEVNET_SUSPECTS: Readonly<Record<string, string>> = { "verity-tiny": "test:verity-tiny-q4" };

export type DevnetValidatorInfo = {
  name: string;
  agentId: string;
  address: `0x${string}`;
  url: string;
  models: { name: string; modelId: string }[];
};

export type DevnetValidator = { validator: Validator; info: DevnetValidatorInfo; stop(): Promise<void> };

/**
 * Mean milliseconds between a devnet validator's canary prompts: a paid request of its own about
 * every 45 s (each wait 22–68 s), so validators audit providers even when no client samples.
 */
export const DEVNET_CANARY_INTERVAL_MS = 45_000;

/**
 * Starts `count` in-process validators on the devnet chain as the devnet's `validator-N` accounts
 * (funded with TestUSD for their bonds): each registers its agent and bond once, audits the devnet
 * models with its own engine, challenges failed samples and votes on the committees it is drawn for,
 * (mining the block its committee draw needs when the chain is idle), and sends canary prompts of its own (paid from its TestUSD; `canaryIntervalMs` 0 turns them off).
 * Validator i listens on `portBase + 20 + i` (free ports without a base). Everything started is handed
 * to `own` as soon as it runs (engines to close, validators to stop), so a failure half-way leaks nothing.
 */
export async function startDevnetValidators(args: {
  count: number;
  accounts: readonly DevnetAccount[];
  deployment: Deployment;
  chain: EIP1193Provider;
  host: string;
  portBase: number | undefined;
  stateDir: string;
  /** Model specs every validator audits (default: the devnet models). */
  models?: readonly string[];
  /** Milliseconds between chain polls (default 1,000). */
  pollMs?: number;
  /** Mean milliseconds between each validator's canary prompts (default 45 s; 0 = off). */
  canaryIntervalMs?: number;
  /** Suspect model spec per audited model name (default: verity-tiny's 4-bit quantisation). */
  suspects?: Readonly<Record<string, string>>;
  own: (resource: { engine: Engine } | { validator: Validator }) => void;
  /** Each validator's notable events (audits, challenges, votes, resolutions), tagged with its name. */
  onEvent?: (event: ValidatorEvent & { validator: string }) => void;
  onError?: (name: string, error: unknown) => void;
}): Promise<DevnetValidator[]> {
  const validatorAccounts = args.accounts.filter((a) => a.role === "validator");
  if (args.count > validatorAccounts.length) {
    throw new Error(`the devnet has ${validatorAccounts.length} validator accounts`);
  }
  const specs = args.models ?? DEVNET_MODELS.map((name) => `test:${name}`);
  const started: DevnetValidator[] = [];
  const canaryIntervalMs = args.canaryIntervalMs ?? DEVNET_CANARY_INTERVAL_MS;
  for (let i = 0; i < args.count; i++) {
    const account = validatorAccounts[i] as DevnetAccount;
    const engines: Engine[] = [];
    for (const spec of specs) {
      const engine = await loadModelSpec({ spec });
      args.own({ engine });
      engines.push(engine);
    }
    // The known cheaper variant of each audited model (its 4-bit quantisation) is a suspect: one
    // more prefill per audit buys a likelihood-ratio test that catches sampled 4-bit answers.
    const suspects: Record<string, Engine[]> = {};
    for (const [model, spec] of Object.entries(args.suspects ?? DEVNET_SUSPECTS)) {
      const engine = await loadModelSpec({ spec });
      args.own({ engine });
      suspects[model] = [...(suspects[model] ?? []), engine];
    }
    const validator = createValidator({
      suspects,
      deployment: args.deployment,
      provider: args.chain,
      account: privateKeyToAccount(account.privateKey),
      models: engines,
      host: args.host,
      port: args.portBase === undefined ? 0 : args.portBase + 20 + i,
      dataDir: join(args.stateDir, account.name),
      name: `devnet ${account.name}`,
      pollMs: args.pollMs ?? 1_000,
      // The devnet chain mines a block per transaction only: a challenger mines the seed block of
      // its dispute's committee draw itself (an empty block, journaled like any other request).
      advanceChain: async () => {
        await args.chain.request({ method: "evm_mine" } as never);
      },
      ...(canaryIntervalMs > 0 ? { canary: { intervalMs: canaryIntervalMs } } : {}),
      onEvent: (event) => {
        // A canary that was paid and queued is routine (its audit reports the outcome); failures are news.
        if (event.event === "canary" && event.outcome === "sent" && event.auditId) return;
        args.onEvent?.({ ...event, validator: account.name });
      },
      onError: (error) => args.onError?.(account.name, error),
    });
    args.own({ validator });
    const info = await validator.start();
    started.push({
      validator,
      info: {
        name: account.name,
        agentId: info.agentId.toString(),
        address: info.address,
        url: info.url,
        models: info.models.map((m) => ({ name: m.name, modelId: m.modelId.toString() })),
      },
      stop: () => validator.stop(),
    });
  }
  return started;
}
