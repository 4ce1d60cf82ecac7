import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createNativeAccount, deploy } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import { BaseError, type Deployment } from "@verity/core";
import { privateKeyToAccount } from "viem/accounts";
import { callAgent, createChannelPayer } from "../../sdk/src/call-agent.ts";
import { createVerityClient } from "../../sdk/src/verity-client.ts";
import { createAgent } from "./agent.ts";
import type { TaskHandler } from "./handler-engine.ts";
import type { Provider, ProviderInfo } from "./provider.ts";
import { mintTestUSD, openTestChannel } from "./testing.ts";

let t: TestChain;
let deployment: Deployment;
const agents: Provider[] = [];

async function startAgent(account: string, skill: string, handler: TaskHandler): Promise<ProviderInfo> {
  await mintTestUSD(t, deployment, account, 1_000_000_000n);
  const agent = createAgent({
    deployment,
    provider: t.edr.provider,
    account: createNativeAccount(t.account(account).privateKey),
    skill,
    description: `The ${skill} agent`,
    handler,
    pricePerTask: 5_000n,
    stake: 500_000_000n,
    dataDir: mkdtempSync(join(tmpdir(), "verity-agent-")),
    indexerPollMs: 50,
    claim: { minValue: 10n ** 30n, maxAgeMs: 3_600_000 },
  });
  agents.push(agent);
  return agent.start();
}

before(async () => {
  t = await createTestChain();
  deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
});
after(async () => {
  for (const a of agents) await a.stop({ finalClaim: false, drainMs: 500 });
  await t?.close();
});

async function payerFor(info: ProviderInfo, salt: string) {
  const modelId = info.models[0]?.modelId ?? 0n;
  const channelId = await openTestChannel({
    t,
    deployment,
    payer: "client-1",
    agentId: info.agentId,
    modelId,
    amount: 1_000_000n,
    salt,
  });
  return createChannelPayer({ channelId, authorizer: privateKeyToAccount(t.account("client-1").privateKey) });
}

test("a script handler becomes a paid A2A agent: one task, one flat charge, one verified receipt", async () => {
  const info = await startAgent("provider-1", "shout", { kind: "script", command: "tr a-z A-Z" });
  const card = (await (await fetch(`${info.url}/.well-known/agent-card.json`)).json()) as {
    skills: { id: string; tags: string[] }[];
  };
  assert.deepEqual(
    card.skills.map((s) => s.id),
    ["shout"],
  );
  const payer = await payerFor(info, "shout");
  const result = await callAgent({
    cardUrl: info.url,
    skill: "shout",
    message: "hello agents",
    maxPrice: 5_000n,
    publicClient: t.publicClient as never,
    agentRegistry: deployment.contracts.AgentRegistry.address,
    payer,
  });
  assert.equal(result.artifact, "HELLO AGENTS");
  assert.equal(result.charge, 5_000n);
  assert.equal(result.charged, 5_000n);
  const health = (await (await fetch(`${info.url}/health`)).json()) as { requests: number; charged: string };
  assert.equal(health.requests, 1);
  assert.equal(health.charged, "5000");
  await assert.rejects(
    callAgent({
      cardUrl: info.url,
      message: "too dear",
      maxPrice: 4_999n,
      publicClient: t.publicClient as never,
      agentRegistry: deployment.contracts.AgentRegistry.address,
      payer,
    }),
    (e: unknown) => e instanceof BaseError && e.code === "offer_over_max_price",
  );
});

test("a handler that returns nothing is agent_no_output and nothing is charged", async () => {
  const info = await startAgent("provider-2", "silent", { kind: "script", command: "cat > /dev/null" });
  const payer = await payerFor(info, "silent");
  await assert.rejects(
    callAgent({
      cardUrl: info.url,
      message: "anyone there?",
      publicClient: t.publicClient as never,
      agentRegistry: deployment.contracts.AgentRegistry.address,
      payer,
    }),
    (e: unknown) => e instanceof BaseError && e.code === "agent_no_output",
  );
  assert.equal(payer.charged(), 0n);
  const health = (await (await fetch(`${info.url}/health`)).json()) as { requests: number; charged: string };
  assert.equal(health.requests, 0);
  assert.equal(health.charged, "0");
});

test("a VerityClient hires an agent from its own channels: auto-opened once, reused, settled by receipts", async () => {
  const info = await startAgent("provider-3", "echo", { kind: "function", run: async (m) => `echo: ${m}` });
  await mintTestUSD(t, deployment, "client-2", 1_000_000n);
  const client = createVerityClient({
    provider: t.edr.provider,
    deployment,
    account: createNativeAccount(t.account("client-2").privateKey),
    stateDir: mkdtempSync(join(tmpdir(), "verity-agent-client-")),
    autoOpen: { amount: 100_000n },
    indexerPollMs: 50,
  });
  try {
    const first = await client.callAgent({ cardUrl: info.url, message: "one" });
    const second = await client.callAgent({ cardUrl: info.url, message: "two" });
    assert.equal(first.artifact, "echo: one");
    assert.equal(second.artifact, "echo: two");
    assert.equal(second.charged, 10_000n);
    const channels = await client.channels();
    assert.equal(channels.length, 1);
    assert.equal(channels[0]?.charged, 10_000n);
    assert.equal(channels[0]?.agentId, info.agentId);
  } finally {
    await client.stop();
  }
});
