/**
 * Tool-call scores from the chain to the router: validators in the Disputes set publish ERC-8004
 * feedback tagged `tool_calls` about two real providers; the gateway's indexer reads it, takes each
 * validator's latest value and the median across validators, and routes requests with `tools` away
 * from the provider below the floor while plain requests still reach it. The attack cases are in
 * tool-call-scores.attack.test.ts.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createIndexer } from "@verity/chain";
import { disputesAbi, reputationRegistryAbi } from "@verity/contracts";
import OpenAI, { APIError } from "openai";
import { privateKeyToAccount } from "viem/accounts";
import { mintTestUSD } from "../../provider/src/testing.ts";
import { scoreToolCalls } from "../../validator/src/tool-calls.ts";
import { createGateway, type Gateway } from "./gateway.ts";
import { gatewayStateDir } from "./store/store-testing.ts";
import { fundedKey } from "./testing.ts";
import { createToolCallScene, type ToolCallScene } from "./tool-call-scene.ts";
import { createToolCallScores } from "./tool-call-scores.ts";

let scene: ToolCallScene;
let t: ToolCallScene["t"];
let deployment: ToolCallScene["deployment"];
let sloppy: ToolCallScene["sloppy"];
let careful: ToolCallScene["careful"];
const publish = (...args: Parameters<ToolCallScene["publish"]>) => scene.publish(...args);
const registry = () => scene.registry;

before(async () => {
  scene = await createToolCallScene();
  ({ t, deployment, sloppy, careful } = scene);
});

after(async () => {
  await scene.close();
});

describe("tool-call scores", () => {
  it("takes each validator's latest score and the median across the validator set only", async () => {
    const indexer = createIndexer({ deployment, publicClient: t.publicClient as never, db: ":memory:" });
    const scores = createToolCallScores({ indexer });
    const sync = () => indexer.syncOnce();
    await sync();
    assert.equal(scores.score(sloppy.info.agentId), undefined, "nothing published yet");
    await publish("validator-1", sloppy, 2000n);
    await publish("validator-2", sloppy, 3000n);
    await publish("validator-3", sloppy, 2500n);
    await publish("validator-1", careful, 9000n);
    await publish("validator-2", careful, 9500n);
    await sync();
    assert.equal(scores.score(sloppy.info.agentId), 0.25);
    assert.equal(scores.score(careful.info.agentId), 0.925);
    // A validator's new report replaces its old one; alone it cannot lift the median past the others.
    await publish("validator-1", sloppy, 9900n);
    await sync();
    assert.equal(scores.score(sloppy.info.agentId), 0.3);
    assert.deepEqual(Object.values(scores.validators(sloppy.info.agentId)).sort(), [0.25, 0.3, 0.99]);
    // Feedback with another tag is not a tool-call score.
    await publish("validator-2", sloppy, 10_000n, "starred");
    await sync();
    assert.equal(scores.score(sloppy.info.agentId), 0.3);
    // A revoked report falls back to the validator's previous one.
    const last = await t.publicClient.readContract({
      address: registry(),
      abi: reputationRegistryAbi,
      functionName: "getLastIndex",
      args: [sloppy.info.agentId, t.account("validator-1").address],
    });
    const revoke = await t.wallet("validator-1").writeContract({
      address: registry(),
      abi: reputationRegistryAbi,
      functionName: "revokeFeedback",
      args: [sloppy.info.agentId, last],
    });
    await t.publicClient.waitForTransactionReceipt({ hash: revoke });
    await sync();
    assert.equal(scores.score(sloppy.info.agentId), 0.25);
    scores.close();
    await indexer.stop();
  });

  it("drops the reports of a validator that left the set", async () => {
    const indexer = createIndexer({ deployment, publicClient: t.publicClient as never, db: ":memory:" });
    const scores = createToolCallScores({ indexer });
    await indexer.syncOnce();
    const before = scores.validators(sloppy.info.agentId);
    assert.equal(Object.keys(before).length, 3);
    const hash = await t.wallet("validator-3").writeContract({
      address: deployment.contracts.Disputes.address,
      abi: disputesAbi,
      functionName: "deregisterValidator",
    });
    await t.publicClient.waitForTransactionReceipt({ hash });
    await indexer.syncOnce();
    // validator-1 0.20 (its 0.99 revoked), validator-2 0.30: median 0.25
    assert.deepEqual(Object.keys(scores.validators(sloppy.info.agentId)).length, 2);
    assert.equal(scores.score(sloppy.info.agentId), 0.25);
    scores.close();
    await indexer.stop();
  });
});

describe("routing on published tool-call scores", () => {
  let gateway: Gateway;
  let openai: OpenAI;
  const tools = [
    {
      type: "function" as const,
      function: {
        name: "get_weather",
        description: "Current weather of a city",
        parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
      },
    },
  ];
  const messages = [{ role: "user" as const, content: "Weather in Paris?" }];
  type Served = { verity: { gateway: { agentId: string } } };
  const chat = async (extra: Record<string, unknown>) =>
    (await openai.chat.completions.create({
      model: "verity-tiny",
      messages,
      max_tokens: 8,
      ...extra,
    } as never)) as unknown as Served;

  before(async () => {
    await mintTestUSD(t, deployment, "gateway", 100_000_000n);
    gateway = createGateway({
      allowPrivateEndpoints: true,
      deployment,
      provider: t.edr.provider,
      account: privateKeyToAccount(t.account("gateway").privateKey),
      stateDir: await gatewayStateDir(),
      indexerPollMs: 50,
      probeIntervalMs: 600_000,
    });
    const url = (await gateway.start()).url;
    const listed = (await (await fetch(`${url}/v1/providers`)).json()) as {
      data: { agentId: string; toolCallScore?: number }[];
    };
    assert.deepEqual(
      listed.data.map((p) => [p.agentId, p.toolCallScore]).sort(),
      [
        [sloppy.info.agentId.toString(), 0.25],
        [careful.info.agentId.toString(), 0.925],
      ].sort(),
    );
    const { key } = await fundedKey({ t, deployment, url, account: "client-2", amount: 20_000_000n });
    openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: key, maxRetries: 0 });
  });
  after(async () => {
    await gateway.stop();
  });

  it("skips the provider below the floor for requests with tools, still serves it plain requests", async () => {
    const sloppyId = sloppy.info.agentId.toString();
    const carefulId = careful.info.agentId.toString();
    // A plain request may go to the low scorer (here asked for by name).
    assert.equal((await chat({ provider: { only: [sloppyId] } })).verity.gateway.agentId, sloppyId);
    for (let i = 0; i < 3; i++) {
      assert.equal((await chat({ tools })).verity.gateway.agentId, carefulId);
    }
    // `tool_choice: none` offers no tools: the score does not count.
    assert.equal(
      (await chat({ tools, tool_choice: "none", provider: { only: [sloppyId] } })).verity.gateway.agentId,
      sloppyId,
    );
    try {
      await chat({ tools, provider: { only: [sloppyId] } });
      assert.fail("served");
    } catch (error) {
      assert.ok(error instanceof APIError, String(error));
      const body = error.error as { code: string; details?: { excluded?: Record<string, string[]> } };
      assert.equal(error.status, 404);
      assert.equal(body.code, "no_provider_matches");
      assert.deepEqual(body.details?.excluded?.tool_call_score, [sloppyId]);
    }
  });

  it("forwards tools and tool_choice to the provider's prompt and into the audit transcript", async () => {
    const served = await chat({ tools, tool_choice: "required" });
    assert.equal(served.verity.gateway.agentId, careful.info.agentId.toString());
    const client = gateway.client;
    assert.ok(client);
    const [transcript] = await client.transcripts({ limit: 1 });
    assert.ok(transcript);
    assert.deepEqual(transcript.request.tools, tools);
    assert.equal(transcript.request.tool_choice, "required");
    const prompt = careful.engines[0]?.detokenize(transcript.promptTokenIds ?? []) ?? "";
    assert.match(prompt, /<tools>/);
    assert.match(prompt, /"name":"get_weather"/);
    assert.match(prompt, /You must call at least one function/);
    // The validator scores this answer's tool calls against the request's tools.
    assert.notEqual(scoreToolCalls({ request: transcript.request, output: transcript.output }), null);
  });
});
