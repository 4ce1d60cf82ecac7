/**
 * A paid provider in front of a separate OpenAI-compatible inference server: the project's own
 * llama.cpp engine served over HTTP by its own process (openai-engine-server-main.ts), reached
 * directly or through a real proxy that lies about usage or is cut mid-stream. Clients are the
 * real SDK on a real chain.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { deploy } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import { BaseError, chargeFor, type Deployment } from "@verity/core";
import type { AnnouncedManifest } from "@verity/engine";
import { privateKeyToAccount } from "viem/accounts";
import { type EngineServerProcess, startEngineServerProcess } from "../../engine/src/engine-server-process.ts";
import { createVerityClient, type VerityClient } from "../../sdk/src/verity-client.ts";
import { mintTestUSD } from "./testing.ts";
import { startUpstreamProxy, type UpstreamProxy } from "./upstream-proxy.ts";
import { manifestOfEngineServer, startUpstreamTestProvider, type UpstreamTestProvider } from "./upstream-testing.ts";

const price = { inputPerMTok: 1_000_000n, outputPerMTok: 2_000_000n };
const messages = [{ role: "user" as const, content: "Tell me about the sea and the ships on it." }];

let t: TestChain;
let deployment: Deployment;
let server: EngineServerProcess;
let cutProxy: UpstreamProxy;
let lyingProxy: UpstreamProxy;
let manifest: AnnouncedManifest;
let client: VerityClient;
const mismatches: unknown[] = [];
const upstreamEvents: string[] = [];
type Running = UpstreamTestProvider;
let honest: Running;
let lying: Running;

function startUpstreamProvider(args: { account: string; upstream: string }): Promise<Running> {
  return startUpstreamTestProvider({
    t,
    deployment,
    manifest,
    price,
    account: args.account,
    upstream: `${args.upstream}/v1`,
    onUsageMismatch: (m) => mismatches.push(m),
    onUpstream: (e) => upstreamEvents.push(`${args.account}:${e.up ? "up" : `down:${e.reason}`}`),
  });
}

before(async () => {
  server = await startEngineServerProcess({ model: "test:verity-tiny" });
  manifest = await manifestOfEngineServer(server.url);
  t = await createTestChain();
  deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  cutProxy = await startUpstreamProxy({ target: server.url });
  lyingProxy = await startUpstreamProxy({
    target: server.url,
    lie: (u) => ({ prompt_tokens: u.prompt_tokens + 500, completion_tokens: u.completion_tokens * 10 + 7 }),
  });
  honest = await startUpstreamProvider({ account: "provider-1", upstream: cutProxy.url });
  lying = await startUpstreamProvider({ account: "provider-2", upstream: lyingProxy.url });
  await mintTestUSD(t, deployment, "client-1", 100_000_000n);
  client = createVerityClient({
    provider: t.edr.provider,
    deployment,
    account: privateKeyToAccount(t.account("client-1").privateKey),
    stateDir: mkdtempSync(join(tmpdir(), "verity-upstream-client-")),
    indexerPollMs: 50,
    autoOpen: { amount: 5_000_000n },
  });
  await client.start();
});

after(async () => {
  await client?.stop();
  for (const p of [honest, lying]) {
    await p?.provider.stop({ finalClaim: false, drainMs: 500 });
    await p?.engine.close();
  }
  await cutProxy?.close();
  await lyingProxy?.close();
  await server?.kill("SIGKILL");
  await t?.close();
});

/** What the engine server answers when called directly (no provider, no payment). */
async function direct(body: Record<string, unknown>) {
  const response = await fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: manifest.name, messages, ...body }),
  });
  assert.equal(response.status, 200);
  return (await response.json()) as {
    choices: { message: { content: string } }[];
    usage: { prompt_tokens: number; completion_tokens: number };
  };
}

async function channelCharged(agentId: bigint): Promise<bigint> {
  const channels = (await client.channels()).filter((c) => c.agentId === agentId);
  return channels.reduce((sum, c) => sum + c.charged, 0n);
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`never happened: ${what}`);
}

test("the provider announces the manifest and its quantization in /v1/models, /health and the registration file", async () => {
  const models = (await (await fetch(`${honest.info.url}/v1/models`)).json()) as {
    data: { id: string; verity: { quantization: string; manifest: AnnouncedManifest; weightsHash: string } }[];
  };
  assert.equal(models.data[0]?.verity.quantization, "f16");
  assert.deepEqual(models.data[0]?.verity.manifest, manifest);
  assert.equal(models.data[0]?.verity.weightsHash, manifest.weightsDigest);
  const health = await fetch(`${honest.info.url}/health`);
  assert.equal(health.status, 200);
  const body = (await health.json()) as { served: { quantization: string; manifestHash: string; upstream: string }[] };
  assert.deepEqual(body.served[0], {
    model: manifest.name,
    quantization: "f16",
    manifestHash: manifest.manifestHash,
    upstream: "up",
  });
  const registration = (await (await fetch(`${honest.info.url}/.well-known/agent-registration.json`)).json()) as {
    offers: { quantization: string; manifest: AnnouncedManifest }[];
  };
  assert.equal(registration.offers[0]?.quantization, "f16");
  assert.equal(registration.offers[0]?.manifest.manifestHash, manifest.manifestHash);
});

test("a completion and a stream served by the upstream are paid and receipted; the text is the upstream's", async () => {
  const request = { model: manifest.name, messages, max_tokens: 24, temperature: 0 };
  const expected = await direct({ max_tokens: 24, temperature: 0 });
  const completion = await client.chat.completions.create(request, { agentId: honest.info.agentId });
  assert.equal(completion.choices[0]?.message.content, expected.choices[0]?.message.content);
  assert.equal(completion.usage?.prompt_tokens, expected.usage.prompt_tokens);
  assert.equal(completion.usage?.completion_tokens, expected.usage.completion_tokens);
  const charge = chargeFor({
    price,
    promptTokens: expected.usage.prompt_tokens,
    completionTokens: expected.usage.completion_tokens,
  });
  assert.equal(completion.verity.charge, charge.toString());
  assert.equal(completion.verity.signer.toLowerCase(), honest.info.address.toLowerCase());

  const stream = await client.chat.completions.create({ ...request, stream: true }, { agentId: honest.info.agentId });
  let text = "";
  let last: { verity?: { charge: string }; usage?: unknown } | undefined;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    last = chunk as typeof last;
  }
  assert.equal(text, expected.choices[0]?.message.content);
  assert.equal(last?.verity?.charge, charge.toString());
  assert.equal(await channelCharged(honest.info.agentId), charge * 2n);
  // The upstream samples with its own RNG, so the provider does not claim seed-synced sampling: the
  // SDK sent a seed key, the receipt's params carry only the audit commitment.
  const [stored] = await client.transcripts({ limit: 1 });
  assert.ok(stored?.sampling);
  assert.equal(stored.sampling.seedKey, undefined);
  assert.match(stored.sampling.auditCommit ?? "", /^0x[0-9a-f]{64}$/);
});

test("an upstream that lies about usage: the provider charges its own count, the client is not overcharged", async () => {
  const expected = await direct({ max_tokens: 20, temperature: 0 });
  const lied = await fetch(`${lyingProxy.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: manifest.name, messages, max_tokens: 20, temperature: 0 }),
  }).then((r) => r.json() as Promise<{ usage: { prompt_tokens: number; completion_tokens: number } }>);
  assert.equal(lied.usage.completion_tokens, expected.usage.completion_tokens * 10 + 7, "the proxy does lie");
  const before = mismatches.length;
  for (const stream of [false, true]) {
    const charged = await channelCharged(lying.info.agentId);
    const request = { model: manifest.name, messages, max_tokens: 20, temperature: 0 };
    let charge: bigint;
    let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
    if (stream) {
      const chunks = await client.chat.completions.create(
        { ...request, stream: true },
        { agentId: lying.info.agentId },
      );
      let last: { verity?: { charge: string }; usage?: typeof usage } | undefined;
      for await (const chunk of chunks) last = chunk as typeof last;
      charge = BigInt(last?.verity?.charge ?? -1);
      usage = last?.usage;
    } else {
      const completion = await client.chat.completions.create(request, { agentId: lying.info.agentId });
      charge = BigInt(completion.verity.charge);
      usage = completion.usage as typeof usage;
    }
    assert.equal(usage?.prompt_tokens, expected.usage.prompt_tokens);
    assert.equal(usage?.completion_tokens, expected.usage.completion_tokens);
    const honestCharge = chargeFor({
      price,
      promptTokens: expected.usage.prompt_tokens,
      completionTokens: expected.usage.completion_tokens,
    });
    assert.equal(charge, honestCharge, `stream=${stream}: charged by the provider's own count`);
    assert.equal(await channelCharged(lying.info.agentId), charged + honestCharge, "the channel moved by that much");
  }
  assert.equal(mismatches.length - before, 2, "each lie was noticed");
});

test("the SDK sees the announced quantization and routes only to offers that announce the one asked for", async () => {
  const offers = await client.offers({ model: manifest.name, quantization: "f16" });
  assert.deepEqual(offers.map((o) => o.agentId).sort(), [honest.info.agentId, lying.info.agentId].sort());
  assert.deepEqual(await client.offers({ model: manifest.name, quantization: "int4" }), []);
  await assert.rejects(
    client.chat.completions.create({ model: manifest.name, messages, max_tokens: 4 }, { quantization: "int4" }),
    (error: unknown) => error instanceof BaseError && error.code === "no_offer_for_quantization",
  );
  const served = await client.chat.completions.create(
    { model: manifest.name, messages, max_tokens: 4 },
    { quantization: "f16", agentId: honest.info.agentId },
  );
  assert.ok(BigInt(served.verity.charge) > 0n);
});

test("the upstream killed mid-stream: a clear error, nothing charged, then upstream_down until it is back", async () => {
  const charged = await channelCharged(honest.info.agentId);
  cutProxy.holdAfter(4);
  const stream = await client.chat.completions.create(
    { model: manifest.name, messages, max_tokens: 200, temperature: 1, seed: 3, stream: true },
    { agentId: honest.info.agentId },
  );
  let text = "";
  const consumed = (async () => {
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
  })();
  // The stream may break while the kill below is still being awaited: handle the rejection now
  // (asserted after the cut) so it is never reported as unhandled.
  consumed.catch(() => {});
  await cutProxy.held();
  await server.kill("SIGKILL");
  cutProxy.cut();
  await assert.rejects(consumed, (error: unknown) => {
    assert.ok(error instanceof BaseError, String(error));
    assert.equal(error.code, "upstream_error", error.message);
    return true;
  });
  assert.ok(text.length > 0, "the delivered part reached the client");
  assert.equal(await channelCharged(honest.info.agentId), charged, "charged nothing for the broken answer");
  cutProxy.holdAfter(undefined);

  await until(
    "the provider reports its upstream down",
    async () => (await fetch(`${honest.info.url}/health`)).status === 503,
  );
  const health = (await (await fetch(`${honest.info.url}/health`)).json()) as {
    status: string;
    upstreamDown: unknown[];
  };
  assert.equal(health.status, "upstream_down");
  const refused = await fetch(`${honest.info.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: manifest.name, messages, max_tokens: 4 }),
  });
  assert.equal(refused.status, 503);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "upstream_down");
  await assert.rejects(
    client.chat.completions.create({ model: manifest.name, messages, max_tokens: 4 }, { agentId: honest.info.agentId }),
    (error: unknown) => error instanceof BaseError && error.code === "upstream_down",
  );
  assert.equal(await channelCharged(honest.info.agentId), charged, "a refused request is not charged");

  server = await startEngineServerProcess({ model: "test:verity-tiny", port: server.port });
  await until("the provider resumes", async () => (await fetch(`${honest.info.url}/health`)).status === 200);
  const served = await client.chat.completions.create(
    { model: manifest.name, messages, max_tokens: 8, temperature: 0 },
    { agentId: honest.info.agentId },
  );
  assert.ok(BigInt(served.verity.charge) > 0n);
  assert.equal(await channelCharged(honest.info.agentId), charged + BigInt(served.verity.charge));
  assert.ok(upstreamEvents.includes("provider-1:up"), upstreamEvents.join(", "));
  assert.ok(
    upstreamEvents.some((e) => e.startsWith("provider-1:down:")),
    upstreamEvents.join(", "),
  );
});
