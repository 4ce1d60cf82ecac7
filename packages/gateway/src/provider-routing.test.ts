/**
 * End to end: real providers on a real chain behind the gateway, called with the official `openai`
 * client passing OpenRouter's `provider` object in the request body. Each provider differs in one
 * thing the preferences select on: price, announced quantization, announced data collection, and
 * one that backdates its receipts (every request to it fails verification, so it "fails first").
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { deploy } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import type { Deployment } from "@verity/core";
import OpenAI, { APIError } from "openai";
import { privateKeyToAccount } from "viem/accounts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import { createGateway, type Gateway } from "./gateway.ts";
import { gatewayStateDir } from "./store/store-testing.ts";
import { fundedKey, keyBalance } from "./testing.ts";

let t: TestChain;
let deployment: Deployment;
let gateway: Gateway;
let url: string;
let apiKey: string;
let openai: OpenAI;
/** bf16, data_collection deny, 1 TUSD per 1M output tokens. */
let cheap: TestProvider;
/** fp8, 2 TUSD per 1M output. */
let mid: TestProvider;
/** No quantization announced, 3 TUSD per 1M output. */
let dear: TestProvider;
/** Backdates its receipts: the gateway refuses every answer from it. 4 TUSD per 1M output. */
let liar: TestProvider;
const all = () => [cheap, mid, dear, liar];
const id = (p: TestProvider) => p.info.agentId.toString();

type Served = {
  choices: { message?: { content: string }; text?: string }[];
  verity: {
    gateway: {
      agentId: string;
      quantization?: string;
      price: { inputPerMTok: string; outputPerMTok: string };
      attempts: number;
      charged: string;
    };
  };
};

const messages = [{ role: "user" as const, content: "route me" }];

/** A chat completion with `provider` in the body, as `extra_body` would send it. */
async function chat(provider: unknown, extra: Record<string, unknown> = {}): Promise<Served> {
  const params = { model: "verity-tiny", messages, max_tokens: 8, provider, ...extra };
  return (await openai.chat.completions.create(
    params as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming,
  )) as unknown as Served;
}

async function refused(
  provider: unknown,
): Promise<{ status: number; code: string; details?: Record<string, unknown> }> {
  try {
    await chat(provider);
  } catch (error) {
    assert.ok(error instanceof APIError, String(error));
    const body = error.error as { code: string; details?: Record<string, unknown> };
    return { status: error.status as number, code: body.code, ...(body.details ? { details: body.details } : {}) };
  }
  assert.fail("served");
}

before(async () => {
  t = await createTestChain();
  deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  const start = (account: string, out: bigint, extra: Parameters<typeof startTestProvider>[0] = {}) =>
    startTestProvider({ t, deployment, account, outputPricePerMTok: out, inputPricePerMTok: 500_000n, ...extra });
  cheap = await start("provider-1", 1_000_000n, { quantization: "bf16", dataCollection: "deny" });
  mid = await start("provider-2", 2_000_000n, { quantization: "fp8" });
  dear = await start("provider-3", 3_000_000n);
  liar = await start("provider-4", 4_000_000n, { receiptClock: () => Date.now() - 24 * 3_600_000 });
  await mintTestUSD(t, deployment, "gateway", 100_000_000n);
  gateway = createGateway({
    allowPrivateEndpoints: true,
    deployment,
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account("gateway").privateKey),
    stateDir: await gatewayStateDir(),
    indexerPollMs: 50,
    // Probes only at start: the test decides who is healthy by what it asks, not by timing.
    probeIntervalMs: 600_000,
  });
  url = (await gateway.start()).url;
  apiKey = (await fundedKey({ t, deployment, url, account: "client-1", amount: 20_000_000n })).key;
  openai = new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 });
  const listed = (await (await fetch(`${url}/v1/providers`)).json()) as {
    data: { agentId: string; quantization?: string; dataCollection?: string }[];
  };
  assert.equal(listed.data.length, 4);
  // what the preferences select on is visible before asking
  const cheapRow = listed.data.find((p) => p.agentId === id(cheap));
  assert.deepEqual([cheapRow?.quantization, cheapRow?.dataCollection], ["bf16", "deny"]);
});
after(async () => {
  await gateway.stop();
  for (const p of all()) await p.close();
  await t.close();
});

test("order is respected and the response names the provider, quantization and price used", async () => {
  const served = await chat({ order: [id(mid), id(cheap)] });
  assert.equal(served.verity.gateway.agentId, id(mid));
  assert.equal(served.verity.gateway.quantization, "fp8");
  assert.deepEqual(served.verity.gateway.price, { inputPerMTok: "500000", outputPerMTok: "2000000" });
  assert.equal(served.verity.gateway.attempts, 1);
  const other = await chat({ order: [`agent:${id(dear)}`] });
  assert.equal(other.verity.gateway.agentId, id(dear));
  assert.equal(other.verity.gateway.quantization, undefined);
});

test("only and ignore pick among agent ids", async () => {
  assert.equal((await chat({ only: [id(dear)] })).verity.gateway.agentId, id(dear));
  for (let i = 0; i < 3; i++) {
    const served = await chat({ ignore: [id(cheap), id(mid), id(liar)] });
    assert.equal(served.verity.gateway.agentId, id(dear));
  }
  const none = await refused({ only: [id(cheap)], ignore: [id(cheap)] });
  assert.deepEqual([none.status, none.code], [404, "no_provider_matches"]);
});

test("a quantization filter refuses providers announcing another one or none, with no fallback", async () => {
  const served = await chat({ quantizations: ["fp8"] });
  assert.deepEqual([served.verity.gateway.agentId, served.verity.gateway.quantization], [id(mid), "fp8"]);
  const before = await keyBalance(url, apiKey);
  const none = await refused({ quantizations: ["int4"] });
  assert.deepEqual([none.status, none.code], [404, "no_provider_matches"]);
  assert.deepEqual(none.details, { excluded: { quantizations: all().map(id) } });
  // even when the named provider is the only one asked for
  const named = await refused({ order: [id(dear)], quantizations: ["fp8"], allow_fallbacks: false });
  assert.equal(named.code, "no_provider_matches");
  assert.equal(await keyBalance(url, apiKey), before, "a refusal charges nothing");
});

test("max_price (whole tokens per 1M) refuses every offer above it, never serving a pricier one", async () => {
  const served = await chat({ max_price: { completion: 1, prompt: "0.5" } });
  assert.equal(served.verity.gateway.agentId, id(cheap));
  const none = await refused({ max_price: { completion: 0.99 } });
  assert.deepEqual([none.status, none.code], [404, "no_provider_matches"]);
  assert.deepEqual(none.details, { excluded: { max_price: all().map(id) } });
  const cap = await refused({ only: [id(dear)], max_price: { completion: 2.5 } });
  assert.deepEqual(cap.details, { excluded: { only: [id(cheap), id(mid), id(liar)], max_price: [id(dear)] } });
});

test("sort by price goes to the cheapest; data_collection deny only to a provider announcing it", async () => {
  for (let i = 0; i < 3; i++) assert.equal((await chat({ sort: "price" })).verity.gateway.agentId, id(cheap));
  const denied = await chat({ data_collection: "deny", ignore: [id(liar)] });
  assert.equal(denied.verity.gateway.agentId, id(cheap));
  const none = await refused({ data_collection: "deny", ignore: [id(cheap)] });
  assert.equal(none.code, "no_provider_matches");
  assert.deepEqual(none.details, { excluded: { ignore: [id(cheap)], data_collection: [id(mid), id(dear), id(liar)] } });
});

test("the text completions route takes the same preferences", async () => {
  const completion = (await openai.completions.create({
    model: "verity-tiny",
    prompt: "route me",
    max_tokens: 8,
    provider: { only: [id(mid)] },
  } as unknown as OpenAI.CompletionCreateParamsNonStreaming)) as unknown as Served;
  assert.deepEqual([completion.verity.gateway.agentId, completion.verity.gateway.quantization], [id(mid), "fp8"]);
  const post = (provider: unknown, headers: Record<string, string> = {}) =>
    fetch(`${url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}`, ...headers },
      body: JSON.stringify({ model: "verity-tiny", prompt: "route me", max_tokens: 8, provider }),
    });
  const capped = await post({ max_price: { completion: 0.5 } });
  assert.deepEqual(
    [capped.status, ((await capped.json()) as { error: { code: string } }).error.code],
    [404, "no_provider_matches"],
  );
  // the Verity-Max-Price header and max_price both apply: the lower cap wins
  const header = await post({ max_price: { completion: 5 } }, { "verity-max-price": ",1500000" });
  assert.equal(((await header.json()) as Served).verity.gateway.agentId, id(cheap));
});

test("a stream names the provider, quantization and price in its final chunk", async () => {
  const params = { model: "verity-tiny", messages, max_tokens: 8, stream: true, provider: { only: [id(cheap)] } };
  const stream = await openai.chat.completions.create(params as unknown as OpenAI.ChatCompletionCreateParamsStreaming);
  let meta: Served["verity"]["gateway"] | undefined;
  for await (const chunk of stream) meta = (chunk as unknown as Partial<Served>).verity?.gateway ?? meta;
  assert.equal(meta?.agentId, id(cheap));
  assert.equal(meta?.quantization, "bf16");
  assert.equal(meta?.price.outputPerMTok, "1000000");
});

test("a malformed provider object is a 400 with provider_preferences_invalid, before any payment", async () => {
  const before = await keyBalance(url, apiKey);
  for (const provider of [{ sort: "cheapest" }, { order: ["bob"] }, { max_price: { completion: -1 } }, { zdr: true }]) {
    const r = await refused(provider);
    assert.deepEqual([r.status, r.code], [400, "provider_preferences_invalid"], JSON.stringify(provider));
  }
  assert.equal(await keyBalance(url, apiKey), before);
});

type QuoteBody = {
  servable: boolean;
  reason?: string;
  expectedPrice?: string;
  route?: string[];
  excluded?: Record<string, string[]>;
  providers: { agentId: string; expectedCost: string; eligible: boolean }[];
};

test("GET and POST /v1/quote route with the same provider preferences as the chat route", async () => {
  const get = async (provider: string) =>
    fetch(`${url}/v1/quote?model=verity-tiny&max_tokens=8&provider=${encodeURIComponent(provider)}`);
  const post = async (provider: unknown) =>
    fetch(`${url}/v1/quote`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "verity-tiny", max_tokens: 8, provider }),
    });
  const ordered = { order: [id(mid), id(cheap)], allow_fallbacks: false };
  const q = (await (await get(JSON.stringify(ordered))).json()) as QuoteBody;
  assert.equal(q.servable, true);
  assert.deepEqual(q.route, [id(mid), id(cheap)]);
  assert.equal(q.expectedPrice, q.providers.find((p) => p.agentId === id(mid))?.expectedCost);
  assert.deepEqual(
    q.providers.filter((p) => p.eligible).map((p) => p.agentId),
    [id(cheap), id(mid)],
  );
  assert.equal((await chat(ordered)).verity.gateway.agentId, q.route?.[0], "the chat goes where the quote said");
  // sort by price: cheapest first, then every other allowed offer by cost
  const sorted = (await (await post({ sort: "price", ignore: [id(liar)] })).json()) as QuoteBody;
  assert.deepEqual(sorted.route, [id(cheap), id(mid), id(dear)]);
  // a hard filter that leaves nobody: the same reason and exclusions as the chat route's refusal
  const none = (await (await post({ quantizations: ["int4"] })).json()) as QuoteBody;
  assert.deepEqual([none.servable, none.reason], [false, "no_provider_matches"]);
  assert.deepEqual(none.excluded, { quantizations: all().map(id) });
  const refusal = await refused({ quantizations: ["int4"] });
  assert.deepEqual(refusal.details, { excluded: none.excluded });
  const capped = (await (await post({ max_price: { completion: 2 } })).json()) as QuoteBody;
  assert.deepEqual([...(capped.route ?? [])].sort(), [id(cheap), id(mid)].sort());
  // malformed: not JSON, or not a provider object → 400 with a reason code
  for (const response of [
    await get("{order:"),
    await get(JSON.stringify({ sort: "cheapest" })),
    await post({ zdr: 1 }),
  ]) {
    const body = (await response.json()) as { error: { code: string } };
    assert.deepEqual([response.status, body.error.code], [400, "provider_preferences_invalid"]);
  }
  const badQuery = await fetch(`${url}/v1/quote?model=verity-tiny&max_price_out=cheap`);
  assert.equal(badQuery.status, 400);
});

// Last: it fails requests on the liar, which the gateway then counts against its health.
test("allow_fallbacks false: when the first provider fails, no other is tried", async () => {
  const before = await keyBalance(url, apiKey);
  const failed = await refused({ order: [id(liar)], allow_fallbacks: false });
  assert.deepEqual([failed.status, failed.code], [502, "all_providers_failed"]);
  assert.deepEqual(
    ((failed.details?.attempts ?? []) as { agentId: string }[]).map((a) => a.agentId),
    [id(liar)],
  );
  assert.equal(await keyBalance(url, apiKey), before, "a failed request charges nothing");
  // with fallbacks allowed the same request is served by the next provider
  const served = await chat({ order: [id(liar), id(mid)] });
  assert.equal(served.verity.gateway.agentId, id(mid));
  assert.equal(served.verity.gateway.attempts, 2);
});
