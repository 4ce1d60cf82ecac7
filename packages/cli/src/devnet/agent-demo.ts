/**
 * The agent-economy demo: a "summariser" agent (a handler priced per task) and a "research" agent
 * that, for one task, buys verified inference from two different providers through Verity and
 * hires the summariser over A2A — every payment a voucher on a channel, every answer a signed
 * receipt. The research agent pays from its own wallet what it earns from its own clients.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createNativeAccount } from "@verity/chain";
import type { Deployment } from "@verity/core";
import { createAgent, type Provider, type ProviderInfo } from "@verity/provider";
import { createVerityClient, type VerityClient } from "@verity/sdk";
import type { EIP1193Provider } from "viem";

export type AgentDemo = {
  summariser: ProviderInfo;
  research: ProviderInfo;
  /** The research agent's own Verity client (its purchases). */
  client: VerityClient;
  /** What the research agent bought for its last task. */
  lastTask: () => AgentDemoTrace | undefined;
  stop(): Promise<void>;
};

export type AgentDemoTrace = {
  inference: { agentId: string; charge: string; requestId: string }[];
  hired: { agentId: string; charge: string; requestId: string };
};

export async function startAgentDemo(args: {
  deployment: Deployment;
  provider?: EIP1193Provider;
  rpcUrl?: string;
  /** Private keys of the summariser and research agents (funded with TestUSD for their stake). */
  summariserKey: `0x${string}`;
  researchKey: `0x${string}`;
  /** The two inference providers the research agent buys from. */
  providers: readonly bigint[];
  model: string;
  dataDir: string;
  stake: bigint;
  host?: string;
  indexerPollMs?: number;
}): Promise<AgentDemo> {
  const chain = {
    ...(args.provider ? { provider: args.provider } : {}),
    ...(args.rpcUrl ? { rpcUrl: args.rpcUrl } : {}),
  };
  const started: Provider[] = [];
  const common = {
    deployment: args.deployment,
    ...chain,
    stake: args.stake,
    ...(args.host ? { host: args.host } : {}),
    port: 0,
    ...(args.indexerPollMs ? { indexerPollMs: args.indexerPollMs } : {}),
  };
  const summariser = createAgent({
    ...common,
    account: createNativeAccount(args.summariserKey),
    skill: "summarise",
    description: "Summarises a text in one line",
    handler: {
      kind: "function",
      run: async (text) => `Summary (${text.split(/\s+/).filter(Boolean).length} words): ${text.slice(0, 80)}`,
    },
    pricePerTask: 2_000n,
    dataDir: join(args.dataDir, "summariser"),
  });
  started.push(summariser);
  const summariserInfo = await summariser.start();

  const stateDir = join(args.dataDir, "research-client");
  mkdirSync(stateDir, { recursive: true });
  const researchAccount = createNativeAccount(args.researchKey);
  const client = createVerityClient({
    ...chain,
    deployment: args.deployment,
    account: researchAccount,
    authorizer: researchAccount,
    stateDir,
    autoOpen: { amount: 1_000_000n },
    audit: { p: 0 },
    ...(args.indexerPollMs ? { indexerPollMs: args.indexerPollMs } : {}),
  });
  let last: AgentDemoTrace | undefined;
  const research = createAgent({
    ...common,
    account: researchAccount,
    skill: "research",
    description: "Answers a question from two independent models and a summary",
    handler: {
      kind: "function",
      run: async (question) => {
        const inference: AgentDemoTrace["inference"] = [];
        const answers: string[] = [];
        for (const agentId of args.providers) {
          const completion = await client.chat.completions.create(
            { model: args.model, messages: [{ role: "user", content: question }], max_tokens: 12, temperature: 0 },
            { agentId },
          );
          answers.push(completion.choices[0]?.message.content ?? "");
          inference.push({
            agentId: completion.verity.agentId ?? "",
            charge: completion.verity.charge,
            requestId: completion.verity.requestId,
          });
        }
        const summary = await client.callAgent({
          skill: "summarise",
          message: answers.map((a, i) => `Source ${i + 1}: ${a}`).join("\n"),
          maxPrice: 10_000n,
        });
        last = {
          inference,
          hired: {
            agentId: summary.agentId.toString(),
            charge: summary.charge.toString(),
            requestId: summary.receipt?.receipt.requestId ?? "",
          },
        };
        return summary.artifact;
      },
    },
    pricePerTask: 20_000n,
    dataDir: join(args.dataDir, "research"),
  });
  started.push(research);
  const researchInfo = await research.start();
  return {
    summariser: summariserInfo,
    research: researchInfo,
    client,
    lastTask: () => last,
    async stop() {
      await client.stop();
      for (const node of started.reverse()) await node.stop({ finalClaim: false, drainMs: 500 });
    },
  };
}
