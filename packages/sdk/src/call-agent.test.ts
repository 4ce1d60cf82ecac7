import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { AgentCard, Role, TaskState } from "@a2a-js/sdk";
import { ClientFactory, ServiceParameters, withA2AExtensions } from "@a2a-js/sdk/client";
import { BaseError } from "@verity/core";
import { privateKeyToAccount } from "viem/accounts";
import { openTestChannel, startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import { verifyAgentCard } from "./agent-card-verify.ts";
import { callAgent, createChannelPayer, fetchAgentCard } from "./call-agent.ts";

let p: TestProvider;
let channelId: `0x${string}`;

before(async () => {
  p = await startTestProvider();
  const model = p.info.models[0];
  assert.ok(model);
  channelId = await openTestChannel({
    t: p.t,
    deployment: p.deployment,
    payer: "client-1",
    agentId: p.info.agentId,
    modelId: model.modelId,
    amount: 10_000_000n,
  });
});
after(async () => {
  await p?.close();
});

const registry = () => p.deployment.contracts.AgentRegistry.address;

test("the provider's agent card is A2A v1.0, lists its models as skills and verifies against the chain", async () => {
  const card = await fetchAgentCard(p.url);
  assert.equal(card.supportedInterfaces[0]?.protocolVersion, "1.0");
  assert.equal(card.supportedInterfaces[0]?.url, `${p.url}/a2a`);
  assert.deepEqual(
    card.skills.map((s) => s.id),
    ["verity-tiny"],
  );
  const verified = await verifyAgentCard({ card, publicClient: p.t.publicClient as never, agentRegistry: registry() });
  assert.equal(verified.agentId, p.info.agentId);
  assert.equal(verified.signer.toLowerCase(), p.info.address.toLowerCase());
  assert.equal(verified.skills["verity-tiny"]?.unit, "token");
  const extensions = card.capabilities?.extensions.map((e) => e.uri) ?? [];
  assert.ok(extensions.some((u) => u.includes("a2a-x402")));
});

test("a forged card (changed price, or re-signed by another key) is agent_card_invalid", async () => {
  const card = await fetchAgentCard(p.url);
  const json = AgentCard.toJSON(card) as { name: string };
  const tampered = AgentCard.fromJSON({ ...json, name: "someone else" });
  await assert.rejects(
    verifyAgentCard({ card: tampered, publicClient: p.t.publicClient as never, agentRegistry: registry() }),
    (e: unknown) => e instanceof BaseError && e.code === "agent_card_invalid",
  );
  const { signAgentCard } = await import("../../provider/src/agent-card.ts");
  const impostor = privateKeyToAccount(p.t.account("client-2").privateKey);
  const resigned = await signAgentCard({
    card,
    account: impostor,
    ref: { chainId: p.deployment.chainId, agentRegistry: registry(), agentId: p.info.agentId },
  });
  await assert.rejects(
    callAgent({
      card: resigned,
      message: "hi",
      publicClient: p.t.publicClient as never,
      agentRegistry: registry(),
      payer: { pay: async () => assert.fail("a forged card is never paid") },
    }),
    (e: unknown) => e instanceof BaseError && e.code === "agent_card_invalid",
  );
});

test("the official A2A client gets payment-required for an unpaid task and nothing runs", async () => {
  const client = await new ClientFactory().createFromUrl(p.url);
  const events = [];
  for await (const e of client.sendMessageStream(
    {
      tenant: "",
      configuration: undefined,
      metadata: undefined,
      message: {
        messageId: "m-1",
        contextId: "",
        taskId: "",
        role: Role.ROLE_USER,
        parts: [
          { content: { $case: "text", value: "hello" }, metadata: undefined, filename: "", mediaType: "text/plain" },
        ],
        metadata: {},
        extensions: [],
        referenceTaskIds: [],
      },
    },
    {
      serviceParameters: ServiceParameters.create(
        withA2AExtensions("https://github.com/google-agentic-commerce/a2a-x402/blob/main/spec/v0.2"),
      ),
    },
  ))
    events.push(e);
  const last = events.at(-1)?.payload;
  assert.equal(last?.$case, "statusUpdate");
  if (last?.$case !== "statusUpdate") return;
  assert.equal(last.value.status?.state, TaskState.TASK_STATE_INPUT_REQUIRED);
  const meta = last.value.status?.message?.metadata ?? {};
  assert.equal(meta["x402.payment.status"], "payment-required");
  assert.ok(BigInt(meta["x402.payment.required"].accepts[0].ceiling) > 0n);
  assert.equal(p.provider.info && (await (await fetch(`${p.url}/health`)).json()).requests, 0);
});

test("callAgent pays with a voucher, streams the task and returns the artifact with a verified receipt", async () => {
  const payer = createChannelPayer({ channelId, authorizer: privateKeyToAccount(p.t.account("client-1").privateKey) });
  const result = await callAgent({
    cardUrl: `${p.url}/.well-known/agent-card.json`,
    message: "Say something",
    maxTokens: 8,
    publicClient: p.t.publicClient as never,
    agentRegistry: registry(),
    payer,
  });
  assert.ok(result.artifact.length > 0);
  assert.ok(result.charge > 0n);
  assert.equal(payer.charged(), result.charged);
  assert.deepEqual(
    result.updates.map((u) => u.paymentStatus ?? u.state),
    ["submitted", "payment-required", "submitted", "payment-submitted", "payment-completed"],
  );
  const again = await callAgent({
    cardUrl: p.url,
    message: "Again",
    maxTokens: 4,
    publicClient: p.t.publicClient as never,
    agentRegistry: registry(),
    payer,
  });
  assert.equal(again.charged, result.charged + again.charge);
});

test("an unknown skill is agent_skill_unknown before anything is paid", async () => {
  await assert.rejects(
    callAgent({
      cardUrl: p.url,
      skill: "no-such-skill",
      message: "hi",
      publicClient: p.t.publicClient as never,
      agentRegistry: registry(),
      payer: { pay: async () => assert.fail("never paid") },
    }),
    (e: unknown) => e instanceof BaseError && e.code === "agent_skill_unknown",
  );
});
