/**
 * Fault test: two providers run as separate processes (`verity provider start`), the gateway runs
 * in-process. The provider serving a streamed answer is SIGKILLed at its first content chunk; the
 * caller must still get one complete answer (continued on the other provider, nothing repeated),
 * charged once from the survivor's verified receipt. A provider that is simply dead when a
 * non-streaming request arrives is skipped transparently, again charged once.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createRpcServer, deploy, writeDeployment } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import type { BaseError, Deployment } from "@verity/core";
import { createTestEngine } from "@verity/engine";
import { createProviderStore } from "@verity/provider";
import type { VerityClient } from "@verity/sdk";
import OpenAI from "openai";
import { privateKeyToAccount } from "viem/accounts";
import { mintTestUSD, registerTestModel } from "../../provider/src/testing.ts";
import { forwardChatStream } from "./forwarder.ts";
import { createGateway, type Gateway } from "./gateway.ts";
import { createHealthProber } from "./health-prober.ts";
import { eligible, expectedCost, type RouteOffer, type RoutingPolicy } from "./routing-policy.ts";
import { fundedKey } from "./testing.ts";
import { userPrice } from "./user-price.ts";

const bin = fileURLToPath(new URL("../../cli/src/bin.ts", import.meta.url));
const OPERATOR_KEY = "failover-test-operator";
const FEE_BPS = 500;

type Ready = { url: string; agentId: string; models: { modelId: string }[] };
type Running = { child: ChildProcess; ready: Ready; exited: Promise<void> };
type ProviderSpec = { account: string; priceIn: string; priceOut: string; dataDir: string };

let t: TestChain;
let rpc: ReturnType<typeof createRpcServer>;
let rpcUrl: string;
let deployment: Deployment;
let deploymentFile: string;
let gateway: Gateway;
let url: string;
let apiKey: string;
const dir = mkdtempSync(join(tmpdir(), "verity-failover-"));
const children = new Set<ChildProcess>();
// Providers never outlive the test process, whatever ends it.
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});
/** Every route the gateway's policy returned, newest last: the test knows which provider is tried first. */
const routes: RouteOffer[][] = [];
// provider-1 is ten times cheaper, so it is always the first pick while healthy.
const cheap: ProviderSpec = { account: "provider-1", priceIn: "0.1", priceOut: "0.2", dataDir: join(dir, "p1") };
const dear: ProviderSpec = { account: "provider-2", priceIn: "1", priceOut: "2", dataDir: join(dir, "p2") };
let p1: Running;
let p2: Running;
/** provider-1's one completed request, made before any kill. */
let warmUpCharge = 0n;

/**
 * While set, the policy sees every offer as healthy: the gateway's view between two probes, when a
 * provider has just died and no probe has noticed yet (probes are periodic, deaths are not).
 */
let staleHealth = false;

/** Cheapest expected cost first, ties by agent id: deterministic, so the test knows the first pick. */
const byPrice: RoutingPolicy = (offers, request) => {
  const view = staleHealth ? offers.map((o) => ({ ...o, healthy: true })) : offers;
  const route = eligible(view, request).sort((a, b) => {
    const d = expectedCost(a, request) - expectedCost(b, request);
    return d < 0n ? -1 : d > 0n ? 1 : Number(a.agentId - b.agentId);
  });
  routes.push(route);
  return route;
};

function startProvider(spec: ProviderSpec): Promise<Running> {
  const child = spawn(
    process.execPath,
    [
      bin,
      "provider",
      "start",
      "--model",
      "test:verity-tiny",
      "--rpc",
      rpcUrl,
      "--deployment",
      deploymentFile,
      "--port",
      "0",
      "--data-dir",
      spec.dataDir,
      "--price-in",
      spec.priceIn,
      "--price-out",
      spec.priceOut,
      "--operator-key",
      OPERATOR_KEY,
      "--json",
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, VERITY_KEY: t.account(spec.account).privateKey } },
  );
  children.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      children.delete(child);
      resolve();
    }),
  );
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += String(d);
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const event = JSON.parse(line) as { event: string };
      if (event.event === "ready") resolve({ child, ready: event as unknown as Ready, exited });
      if (event.event === "error") reject(new Error(line));
    });
    void exited.then(() => reject(new Error(`provider ${spec.account} exited: ${stderr}`)));
  });
}

async function kill(p: Running): Promise<void> {
  p.child.kill("SIGKILL");
  await p.exited;
}

async function balance(): Promise<bigint> {
  const response = await fetch(`${url}/v1/balance`, { headers: { authorization: `Bearer ${apiKey}` } });
  return BigInt(((await response.json()) as { balance: string }).balance);
}

async function gatewaySees(agentId: string, wanted: { url: string; healthy: boolean }): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const list = (await (await fetch(`${url}/v1/providers`)).json()) as {
      data: { agentId: string; url: string; healthy: boolean }[];
    };
    const offer = list.data.find((o) => o.agentId === agentId);
    if (offer?.url === wanted.url && offer.healthy === wanted.healthy) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the gateway never saw agent ${agentId} at ${wanted.url} healthy=${wanted.healthy}`);
}

/**
 * One paid request from the gateway's own payer straight to `agentId`, which opens the gateway's
 * channel to it, so failover later measures failover and not a channel being opened. The first
 * voucher on a channel opened a moment ago can lose a race with the provider's indexer (the
 * provider's catch-up sync joins a poll that started before the channel existed, see the report),
 * answered `voucher_wrong_channel`; the next poll sees the channel, so retry.
 */
async function warmUp(agentId: string): Promise<bigint> {
  const payer = gateway.client;
  assert.ok(payer);
  for (let i = 0; ; i++) {
    try {
      const completion = await payer.chat.completions.create(
        { model: "verity-tiny", messages: [{ role: "user", content: "warm up" }], max_tokens: 4 },
        { agentId: BigInt(agentId) },
      );
      return BigInt(completion.verity.charge);
    } catch (error) {
      if ((error as BaseError).code !== "voucher_wrong_channel" || i >= 10) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** What the provider's own store says it completed (read while the process is dead). */
function completedBy(spec: ProviderSpec): { requests: number; charged: bigint } {
  const store = createProviderStore({ path: join(spec.dataDir, "provider.sqlite") });
  try {
    return store.totals();
  } finally {
    store.close();
  }
}

before(
  async () => {
    t = await createTestChain();
    rpc = createRpcServer({ provider: t.edr.provider, port: 0 });
    rpcUrl = await rpc.start();
    deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
    deploymentFile = join(dir, "deployment.json");
    writeDeployment(deploymentFile, deployment);
    const engine = await createTestEngine({ name: "verity-tiny" });
    await registerTestModel(t, deployment, engine);
    await engine.close();
    for (const spec of [cheap, dear]) await mintTestUSD(t, deployment, spec.account, 1_000_000_000n);
    await mintTestUSD(t, deployment, "gateway", 100_000_000n);
    [p1, p2] = await Promise.all([startProvider(cheap), startProvider(dear)]);
    gateway = createGateway({
      allowPrivateEndpoints: true,
      deployment,
      provider: t.edr.provider,
      account: privateKeyToAccount(t.account("gateway").privateKey),
      stateDir: join(dir, "gateway"),
      indexerPollMs: 50,
      probeIntervalMs: 200,
      feeBps: FEE_BPS,
      policy: byPrice,
    });
    url = (await gateway.start()).url;
    await gatewaySees(p1.ready.agentId, { url: p1.ready.url, healthy: true });
    await gatewaySees(p2.ready.agentId, { url: p2.ready.url, healthy: true });
    warmUpCharge = await warmUp(p1.ready.agentId);
    await warmUp(p2.ready.agentId);
    const created = await fundedKey({ t, deployment, url, account: "client-1", amount: 50_000_000n });
    apiKey = created.key;
  },
  { timeout: 90_000 },
);

after(async () => {
  for (const child of children) child.kill("SIGKILL");
  await gateway?.stop();
  await rpc?.stop();
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

const prompt = [{ role: "user" as const, content: "stream it" }];
const sampling = { temperature: 0, seed: 7, max_tokens: 300 };

test("a provider SIGKILLed at the first streamed chunk: one complete answer, continued elsewhere, charged once", {
  timeout: 30_000,
}, async () => {
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 });
  // The survivor, called directly and unpaid (operator key): what it would answer on its own.
  const direct = new OpenAI({ baseURL: `${p2.ready.url}/v1`, apiKey: OPERATOR_KEY, maxRetries: 0 });
  const balanceBefore = await balance();
  routes.length = 0;
  const stream = await client.chat.completions.create({
    model: "verity-tiny",
    messages: prompt,
    ...sampling,
    stream: true,
  });
  const first = routes[0]?.[0];
  assert.equal(first?.agentId.toString(), p1.ready.agentId, "the cheap provider is the first pick");
  assert.equal(first?.url, p1.ready.url);

  let text = "";
  let beforeKill: string | undefined;
  const pieces: string[] = [];
  let killed: Promise<void> | undefined;
  let finishReason: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined;
  let gw: { charged: string; agentId: string; attempts: number } | undefined;
  let chunksAfterUsage = 0;
  for await (const chunk of stream) {
    if (usage) chunksAfterUsage++;
    const piece = chunk.choices[0]?.delta?.content ?? "";
    if (finishReason && piece) assert.fail("content after finish_reason");
    text += piece;
    if (piece) pieces.push(piece);
    if (piece && killed === undefined) {
      beforeKill = text;
      killed = kill(p1);
    }
    finishReason = chunk.choices[0]?.finish_reason ?? finishReason;
    if (chunk.usage) {
      usage = chunk.usage;
      gw = (chunk as unknown as { verity?: { gateway: typeof gw } }).verity?.gateway;
    }
  }
  await killed;
  assert.ok(beforeKill, "content arrived");
  assert.ok(finishReason === "stop" || finishReason === "length", `finish_reason ${finishReason}`);
  assert.ok(usage && usage.completion_tokens > 0, "the trailing chunk carries usage");
  assert.equal(chunksAfterUsage, 0, "the usage chunk is the last");
  assert.ok(gw, "the trailing chunk carries verity.gateway");
  assert.equal(gw.agentId, p2.ready.agentId, "completed on the survivor");
  assert.equal(gw.attempts, 2);

  // Nothing repeated: the caller got what provider-1 streamed before it died, exactly once, then the
  // survivor's continuation of exactly that text (an open assistant turn), within one max_tokens budget.
  const transcripts = await gateway.client?.transcripts({ limit: 50 });
  const survivor =
    transcripts?.filter((x) => x.agentId.toString() === p2.ready.agentId && x.request.continue_final_message) ?? [];
  assert.equal(survivor.length, 1, "one verified continuation receipt from the survivor");
  const continued = survivor[0];
  assert.ok(continued);
  const messages = continued.request.messages as { role: string; content: string }[];
  assert.equal(messages.at(-1)?.role, "assistant");
  const prefix = messages.at(-1)?.content ?? "";
  assert.ok(prefix.startsWith(beforeKill), "the handed-over prefix holds the text the caller had at the kill");
  // The gateway forwards each upstream piece as one chunk: the first n chunks are provider-1's.
  let n = 0;
  for (let sum = ""; sum.length < prefix.length && n < pieces.length; n++) sum += pieces[n];
  assert.equal(pieces.slice(0, n).join(""), prefix, "the caller's first chunks are the prefix, once");
  assert.equal(pieces.slice(n).join(""), continued.output, "every later chunk is the survivor's continuation");
  assert.equal(text, prefix + continued.output);
  assert.equal(
    continued.request.max_tokens,
    sampling.max_tokens - n,
    "the continuation only gets the rest of the budget",
  );
  assert.ok(n + usage.completion_tokens <= sampling.max_tokens, "one answer's worth of tokens, not two");
  // …and that continuation is what the survivor produces from that prefix on its own (greedy, same seed).
  const expected = await direct.chat.completions.create({
    model: "verity-tiny",
    messages: [...prompt, { role: "assistant", content: prefix }],
    ...sampling,
    max_tokens: sampling.max_tokens - n,
    continue_final_message: true,
  } as OpenAI.ChatCompletionCreateParamsNonStreaming);
  assert.equal(continued.output, expected.choices[0]?.message.content);

  // Charged once: the survivor's verified charge plus the fee; the killed provider completed nothing.
  const charge = BigInt(continued.receipt.receipt.charge);
  assert.ok(charge > 0n);
  assert.equal(BigInt(gw.charged), userPrice(charge, FEE_BPS));
  assert.equal(balanceBefore - (await balance()), BigInt(gw.charged));
  assert.deepEqual(
    completedBy(cheap),
    { requests: 1, charged: warmUpCharge, claimed: 0n, channels: 1 },
    "the killed provider holds only the request it completed before the kill",
  );
});

test("a dead provider is skipped transparently for a non-streaming request, charged once", {
  timeout: 30_000,
}, async () => {
  // Bring provider-1 back (same key and stores, a new port), let the gateway see it healthy, then kill it.
  p1 = await startProvider(cheap);
  await gatewaySees(p1.ready.agentId, { url: p1.ready.url, healthy: true });
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 });
  const balanceBefore = await balance();
  await kill(p1);
  staleHealth = true;
  routes.length = 0;
  const completion = await client.chat.completions
    .create({
      model: "verity-tiny",
      messages: [{ role: "user", content: "Are you there?" }],
      temperature: 0,
      seed: 1,
      max_tokens: 24,
    })
    .finally(() => {
      staleHealth = false;
    });
  assert.equal(routes[0]?.[0]?.agentId.toString(), p1.ready.agentId, "the dead provider was still the first pick");
  const v = (
    completion as unknown as {
      verity: { requestId: string; gateway: { charged: string; agentId: string; attempts: number } };
    }
  ).verity;
  assert.equal(v.gateway.agentId, p2.ready.agentId);
  assert.equal(v.gateway.attempts, 2, "tried the dead provider, then the live one");
  assert.ok((completion.choices[0]?.message.content ?? "").length > 0);
  const receipt = (await gateway.client?.transcripts({ limit: 50 }))?.find((x) => x.requestId === v.requestId);
  assert.ok(receipt, "the survivor's verified receipt");
  assert.equal(BigInt(v.gateway.charged), userPrice(BigInt(receipt.receipt.receipt.charge), FEE_BPS));
  assert.equal(balanceBefore - (await balance()), BigInt(v.gateway.charged));
  assert.equal(completedBy(cheap).requests, 1, "the dead provider completed nothing more");
});

test("a stream that drops after its verified receipt is complete: not sent on, charged once", async () => {
  const offer = (agentId: bigint): RouteOffer => ({
    offerId: agentId,
    agentId,
    modelId: 1n,
    model: "verity-tiny",
    url: `http://127.0.0.1:9/${agentId}`,
    inputPricePerMTok: 1n,
    outputPricePerMTok: 1n,
    inputPrice: 1,
    outputPrice: 1,
    maxOutputTokens: 64,
    stake: 1n,
    latencyMs: 1,
    failureRate: 0,
    queueDepth: 0,
    healthy: true,
    reputation: 0.5,
  });
  const calls: bigint[] = [];
  async function* upstream(): AsyncGenerator<unknown> {
    yield { choices: [{ index: 0, delta: { content: "Hello" }, finish_reason: null }] };
    yield { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] };
    yield { choices: [], usage: { prompt_tokens: 3, completion_tokens: 1 }, verity: { charge: "42" } };
    throw new TypeError("terminated"); // the connection drops before [DONE]
  }
  const client = {
    chat: {
      completions: {
        create: async (_params: unknown, options: { agentId: bigint }) => {
          calls.push(options.agentId);
          return upstream();
        },
      },
    },
  } as unknown as VerityClient;
  const written: string[] = [];
  const forwarded = await forwardChatStream({
    route: [offer(1n), offer(2n)],
    prober: createHealthProber(),
    client,
    params: { model: "verity-tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 8 },
    write: async (text) => {
      written.push(text);
    },
  });
  assert.deepEqual(calls, [1n], "the second provider is never asked");
  assert.deepEqual(written, ["Hello"]);
  assert.equal(forwarded.charge, 42n);
  assert.deepEqual([forwarded.agentId, forwarded.attempts.length, forwarded.result.finishReason], [1n, 1, "stop"]);
});
