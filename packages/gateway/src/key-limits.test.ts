import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { deploy } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import type { Deployment, KeyScope } from "@verity/core";
import { listGatewayKeys } from "@verity/sdk";
import OpenAI from "openai";
import { privateKeyToAccount } from "viem/accounts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import { createGateway, type Gateway } from "./gateway.ts";
import { gatewayStateDir } from "./store/store-testing.ts";
import { createTestKey, fundedKey, keyBalance } from "./testing.ts";

let t: TestChain;
let deployment: Deployment;
let provider: TestProvider;
let gateway: Gateway;
let url: string;
let ownerKey: string;
let maxPrice: bigint;
const chat = { model: "verity-tiny", messages: [{ role: "user" as const, content: "hi" }], max_tokens: 8 };

before(async () => {
  t = await createTestChain();
  deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  provider = await startTestProvider({ t, deployment, account: "provider-1" });
  await mintTestUSD(t, deployment, "gateway", 100_000_000n);
  gateway = createGateway({
    allowPrivateEndpoints: true,
    deployment,
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account("gateway").privateKey),
    stateDir: await gatewayStateDir("verity-key-limits-"),
    indexerPollMs: 50,
    probeIntervalMs: 200,
  });
  ({ url } = await gateway.start());
  ownerKey = (await fundedKey({ t, deployment, url, account: "client-1", amount: 5_000_000n })).key;
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(chat),
  });
  const header = res.headers.get("payment-required") ?? "";
  maxPrice = BigInt(
    (JSON.parse(Buffer.from(header, "base64").toString()) as { accepts: { amount: string }[] }).accepts[0]?.amount ??
      "0",
  );
  assert.ok(maxPrice > 0n);
});

after(async () => {
  await gateway.stop();
  await provider.close();
  await t.close();
});

async function keyWith(scope: KeyScope) {
  const created = await createTestKey({ t, url, account: "client-1", scope });
  return { key: created.key, openai: new OpenAI({ apiKey: created.key, baseURL: `${url}/v1`, maxRetries: 0 }) };
}

type Refusal = { status: number; code?: string; limit?: string; retryAfter: string | null };
async function outcome(p: Promise<unknown>): Promise<"ok" | Refusal> {
  try {
    await p;
    return "ok";
  } catch (error) {
    if (!(error instanceof OpenAI.APIError)) throw error;
    const body = error.error as { code?: string; details?: { limit?: string } } | undefined;
    return {
      status: error.status ?? 0,
      ...(body?.code ? { code: body.code } : {}),
      ...(body?.details?.limit ? { limit: body.details.limit } : {}),
      retryAfter: error.headers?.get("retry-after") ?? null,
    };
  }
}

test("a per-call bound below the request's maximum is mandate_exceeded (per_call) and holds nothing", async () => {
  const { openai } = await keyWith({ maxPerCall: maxPrice - 1n });
  const before = await keyBalance(url, ownerKey);
  const r = await outcome(openai.chat.completions.create(chat));
  assert.deepEqual(r, { status: 402, code: "mandate_exceeded", limit: "per_call", retryAfter: null });
  assert.equal(await keyBalance(url, ownerKey), before);
  const { openai: fits } = await keyWith({ maxPerCall: maxPrice });
  assert.equal(await outcome(fits.chat.completions.create(chat)), "ok");
});

test("concurrent calls cannot overshoot the daily bound (Promise.all of 8)", async () => {
  const dailyLimit = 2n * maxPrice + maxPrice / 2n;
  const { key, openai } = await keyWith({ dailyLimit, label: "daily" });
  const results = await Promise.all(Array.from({ length: 8 }, () => outcome(openai.chat.completions.create(chat))));
  const ok = results.filter((r) => r === "ok").length;
  const refused = results.filter((r): r is Refusal => r !== "ok");
  assert.ok(ok >= 1 && ok <= 2, `at most two maxima fit the day: ${ok}`);
  for (const r of refused) assert.deepEqual([r.status, r.code, r.limit], [402, "mandate_exceeded", "per_day"]);
  const listed = await listGatewayKeys({ gatewayUrl: url, apiKey: ownerKey });
  const mine = listed.find((k) => k.label === "daily");
  assert.ok(mine);
  assert.ok(BigInt(mine.spent) <= dailyLimit, `spent ${mine.spent} within ${dailyLimit}`);
  void key;
});

test("requests per minute: the call past the limit is 429 rate_limited with Retry-After", async () => {
  const { openai } = await keyWith({ rpm: 2 });
  assert.equal(await outcome(openai.chat.completions.create(chat)), "ok");
  assert.equal(await outcome(openai.chat.completions.create(chat)), "ok");
  const r = await outcome(openai.chat.completions.create(chat));
  assert.ok(r !== "ok");
  assert.deepEqual([r.status, r.code, r.limit], [429, "rate_limited", "requests_per_minute"]);
  assert.ok(Number(r.retryAfter) >= 1 && Number(r.retryAfter) <= 60);
});

test("tokens per minute: once the minute's tokens reach the limit the next call is refused", async () => {
  const { openai } = await keyWith({ tpm: 1 });
  assert.equal(await outcome(openai.chat.completions.create(chat)), "ok");
  const r = await outcome(openai.chat.completions.create(chat));
  assert.ok(r !== "ok");
  assert.deepEqual([r.status, r.code, r.limit], [429, "rate_limited", "tokens_per_minute"]);
  assert.ok(r.retryAfter);
});

test("concurrency: a call beyond the signed number in flight is refused, the slot frees afterwards", async () => {
  const { openai } = await keyWith({ concurrency: 1 });
  // A stream holds its slot until it ends: open one and leave it unread while a second call arrives.
  const stream = await openai.chat.completions.create({ ...chat, stream: true });
  const r = await outcome(openai.chat.completions.create(chat));
  assert.ok(r !== "ok", "the second call arrived while the stream held the only slot");
  assert.deepEqual([r.status, r.code, r.limit], [429, "rate_limited", "concurrency"]);
  assert.ok(r.retryAfter);
  for await (const _ of stream) void _;
  assert.equal(await outcome(openai.chat.completions.create(chat)), "ok", "the slot was freed");
});
