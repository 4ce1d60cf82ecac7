/**
 * `allow_fallbacks: false` with `order`, end to end: two real providers behind a real gateway, the
 * official `openai` client sending the `provider` object in the body (as `extra_body` does), and
 * one provider killed. Only the providers named in `order` may serve, in that order; when they all
 * fail the request fails, charging nothing, and is never moved to the other provider. The answer
 * names the provider, quantization and price it was served at, in its body and its headers.
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
/** bf16, 1 TUSD per 1M output: killed in the middle of the file. */
let first: TestProvider;
/** fp8, 3 TUSD per 1M output: alive throughout. */
let second: TestProvider;
const id = (p: TestProvider) => p.info.agentId.toString();

type ServedMeta = {
  agentId: string;
  quantization?: string;
  price: { inputPerMTok: string; outputPerMTok: string };
  attempts: number;
  charged: string;
};

async function chat(provider: unknown) {
  const params = { model: "verity-tiny", messages: [{ role: "user", content: "who serves" }], max_tokens: 8, provider };
  const { data, response } = await openai.chat.completions
    .create(params as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)
    .withResponse();
  return { served: (data as unknown as { verity: { gateway: ServedMeta } }).verity.gateway, headers: response.headers };
}

async function refused(provider: unknown): Promise<{ status: number; code: string; attempts?: string[] }> {
  try {
    await chat(provider);
  } catch (error) {
    assert.ok(error instanceof APIError, String(error));
    const body = error.error as { code: string; details?: { attempts?: { agentId: string }[] } };
    const attempts = body.details?.attempts?.map((a) => a.agentId);
    return { status: error.status as number, code: body.code, ...(attempts ? { attempts } : {}) };
  }
  assert.fail("served");
}

before(async () => {
  t = await createTestChain();
  deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  first = await startTestProvider({
    t,
    deployment,
    account: "provider-1",
    inputPricePerMTok: 500_000n,
    outputPricePerMTok: 1_000_000n,
    quantization: "bf16",
  });
  second = await startTestProvider({
    t,
    deployment,
    account: "provider-2",
    inputPricePerMTok: 700_000n,
    outputPricePerMTok: 3_000_000n,
    quantization: "fp8",
  });
  await mintTestUSD(t, deployment, "gateway", 100_000_000n);
  gateway = createGateway({
    allowPrivateEndpoints: true,
    deployment,
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account("gateway").privateKey),
    stateDir: await gatewayStateDir(),
    indexerPollMs: 50,
    // Probes only at start: the killed provider is found dead by the requests sent to it.
    probeIntervalMs: 600_000,
  });
  url = (await gateway.start()).url;
  apiKey = (await fundedKey({ t, deployment, url, account: "client-1", amount: 20_000_000n })).key;
  openai = new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 });
});
after(async () => {
  await gateway.stop();
  await second.close();
  await t.close();
});

test("with both alive, order + allow_fallbacks false serves on the first named; body and headers name it", async () => {
  const { served, headers } = await chat({ order: [id(second), id(first)], allow_fallbacks: false });
  assert.deepEqual(
    [served.agentId, served.quantization, served.price, served.attempts],
    [id(second), "fp8", { inputPerMTok: "700000", outputPerMTok: "3000000" }, 1],
  );
  assert.equal(headers.get("verity-provider"), id(second));
  assert.equal(headers.get("verity-quantization"), "fp8");
  assert.equal(headers.get("verity-price"), "700000,3000000");
  assert.equal(headers.get("verity-charged"), served.charged);
  assert.ok(BigInt(served.charged) > 0n);
});

test("the named provider killed: the request fails and is never moved to the other one", async () => {
  await first.close();
  const before = await keyBalance(url, apiKey);
  const failed = await refused({ order: [id(first)], allow_fallbacks: false });
  assert.deepEqual([failed.status, failed.code, failed.attempts], [502, "all_providers_failed", [id(first)]]);
  // asked again, now that the gateway counts it unhealthy: still refused, still not the other one
  const again = await refused({ order: [id(first)], allow_fallbacks: false });
  assert.ok(["all_providers_failed", "no_provider_matches"].includes(again.code), again.code);
  assert.notDeepEqual(again.attempts, [id(second)]);
  assert.equal(await keyBalance(url, apiKey), before, "a refused request charges nothing");
});

test("order lists both: the second named serves when the first is dead, and says so", async () => {
  const { served, headers } = await chat({ order: [id(first), id(second)], allow_fallbacks: false });
  assert.deepEqual([served.agentId, served.quantization], [id(second), "fp8"]);
  assert.equal(headers.get("verity-provider"), id(second));
  assert.equal(headers.get("verity-price"), "700000,3000000");
});

test("with fallbacks allowed (the default) the same request moves on, and names where it went", async () => {
  const { served } = await chat({ order: [id(first)] });
  assert.equal(served.agentId, id(second));
  // a hard filter still holds with fallbacks: only bf16 may serve, and the bf16 provider is dead
  const strict = await refused({ order: [id(first)], quantizations: ["bf16"] });
  assert.ok(["all_providers_failed", "no_provider_matches"].includes(strict.code), strict.code);
});
