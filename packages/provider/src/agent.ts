/**
 * A paid A2A agent (`verity agent serve`): a provider whose one offer is a task handler priced per
 * task. It registers in the ERC-8004 identity registry, stakes and registers its skill as the
 * provider does, publishes its signed Agent Card, accepts tasks only with a voucher for the task
 * price, signs a receipt per task, claims on chain and authorises reputation feedback only from
 * channels that paid — all through the provider's own machinery.
 */
import type { Deployment } from "@verity/core";
import type { EIP1193Provider, LocalAccount } from "viem";
import { createHandlerEngine, type TaskHandler } from "./handler-engine.ts";
import { createProvider, type ProviderOptions } from "./provider.ts";

export type AgentOptions = {
  deployment: Deployment;
  rpcUrl?: string;
  provider?: EIP1193Provider;
  account: LocalAccount;
  /** The skill's id (its model name on chain). */
  skill: string;
  description: string;
  handler: TaskHandler;
  /** Price of one task in payment-token base units. */
  pricePerTask: bigint;
  stake: bigint;
  dataDir: string;
  host?: string;
  port?: number;
  publicUrl?: string;
  name?: string;
  claim?: ProviderOptions["claim"];
  indexerPollMs?: number;
  onStep?: (step: string) => void;
  onError?: (error: unknown) => void;
};

export function createAgent(options: AgentOptions) {
  const engine = createHandlerEngine({ name: options.skill, handler: options.handler });
  return createProvider({
    deployment: options.deployment,
    ...(options.rpcUrl === undefined ? {} : { rpcUrl: options.rpcUrl }),
    ...(options.provider === undefined ? {} : { provider: options.provider }),
    account: options.account,
    models: [
      {
        engine,
        inputPricePerMTok: 0n,
        outputPricePerMTok: options.pricePerTask * 1_000_000n,
        maxOutputTokens: 1,
        registerModelIfMissing: true,
      },
    ],
    stake: options.stake,
    dataDir: options.dataDir,
    x402: false,
    name: options.name ?? `verity-agent-${options.skill}`,
    agentCard: {
      description: options.description,
      skillDescription: () => options.description,
      taskPrices: new Map([[options.skill, options.pricePerTask]]),
    },
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.publicUrl === undefined ? {} : { publicUrl: options.publicUrl }),
    ...(options.claim === undefined ? {} : { claim: options.claim }),
    ...(options.indexerPollMs === undefined ? {} : { indexerPollMs: options.indexerPollMs }),
    ...(options.onStep ? { onStep: options.onStep } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
  });
}
