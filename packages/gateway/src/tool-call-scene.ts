/**
 * Test scene for tool-call scores: a real EDR chain with the contracts deployed, two real providers
 * (`sloppy`, cheaper, and `careful`, dearer) and three validators in the Disputes set. `publish`
 * makes an account pay a provider through a claimed channel, show it to the ReputationRegistry
 * (once) and give feedback, as a validator's reporter does.
 */
import { connectChain, deploy } from "@verity/chain";
import { channelConfigOf, createTestChain, type TestChain } from "@verity/chain/testing";
import { reputationRegistryAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import { privateKeyToAccount } from "viem/accounts";
import {
  claimTestChannel,
  mintTestUSD,
  openTestChannel,
  startTestProvider,
  type TestProvider,
} from "../../provider/src/testing.ts";
import { onboardValidator } from "../../validator/src/onboard.ts";
import { createTxSender } from "../../validator/src/tx-sender.ts";

export const ZERO_HASH = `0x${"00".repeat(32)}` as const;
export const VALIDATORS = ["validator-1", "validator-2", "validator-3"] as const;

export type ToolCallScene = {
  t: TestChain;
  deployment: Deployment;
  /** Cheaper, and its tool calls score low. */
  sloppy: TestProvider;
  /** Dearer, and its tool calls score high. */
  careful: TestProvider;
  registry: `0x${string}`;
  /** `account` pays `provider` through a claimed channel and shows it to the registry, once. */
  pay(account: string, provider: TestProvider): Promise<void>;
  /** `account` publishes a tool-call score (percent × 100) about `provider`, paying it first. */
  publish(account: string, provider: TestProvider, value: bigint, tag1?: string): Promise<void>;
  close(): Promise<void>;
};

export async function createToolCallScene(): Promise<ToolCallScene> {
  const t = await createTestChain();
  const deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  const sloppy = await startTestProvider({ t, deployment, account: "provider-1", outputPricePerMTok: 1_000_000n });
  const careful = await startTestProvider({ t, deployment, account: "provider-2", outputPricePerMTok: 3_000_000n });
  for (const name of VALIDATORS) {
    await mintTestUSD(t, deployment, name, 1_000_000_000n);
    const clients = await connectChain({
      provider: t.edr.provider,
      account: privateKeyToAccount(t.account(name).privateKey),
      expectedChainId: deployment.chainId,
    });
    await onboardValidator({
      clients,
      deployment,
      sender: createTxSender(clients),
      agentURI: `http://${name}.example/.well-known/agent-registration.json`,
    });
  }
  const registry = deployment.contracts.ReputationRegistry.address;
  const paid = new Set<string>();

  async function pay(account: string, provider: TestProvider): Promise<void> {
    const key = `${account}:${provider.info.agentId}`;
    if (paid.has(key)) return;
    const agentId = provider.info.agentId;
    const modelId = provider.info.models[0]?.modelId as bigint;
    const channelId = await openTestChannel({ t, deployment, payer: account, agentId, modelId, amount: 1_000n });
    const claimer = provider === sloppy ? "provider-1" : "provider-2";
    await claimTestChannel({ t, deployment, payer: account, claimer, channelId, amount: 10n });
    const config = await channelConfigOf({
      publicClient: t.publicClient,
      paymentChannels: deployment.contracts.PaymentChannels.address,
      channelId,
    });
    const hash = await t.wallet(account).writeContract({
      address: registry,
      abi: reputationRegistryAbi,
      functionName: "provePayment",
      args: [config],
    });
    await t.publicClient.waitForTransactionReceipt({ hash });
    paid.add(key);
  }

  async function publish(account: string, provider: TestProvider, value: bigint, tag1 = "tool_calls"): Promise<void> {
    await pay(account, provider);
    const hash = await t.wallet(account).writeContract({
      address: registry,
      abi: reputationRegistryAbi,
      functionName: "giveFeedback",
      args: [provider.info.agentId, value, 2, tag1, "verity-validator", "", "", ZERO_HASH],
    });
    await t.publicClient.waitForTransactionReceipt({ hash });
  }

  return {
    t,
    deployment,
    sloppy,
    careful,
    registry,
    pay,
    publish,
    async close() {
      await sloppy.close();
      await careful.close();
      await t.close();
    },
  };
}
