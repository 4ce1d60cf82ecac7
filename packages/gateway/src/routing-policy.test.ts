import assert from "node:assert/strict";
import { test } from "node:test";
import { RequestError } from "@verity/core";
import type { OfferDirectory } from "./offer-directory.ts";
import { planRoute } from "./request-pipeline.ts";
import {
  defaultRoutingPolicy,
  eligible,
  type RouteOffer,
  type RouteRequest,
  toolCallExcluded,
} from "./routing-policy.ts";

function offer(i: number, overrides: Partial<RouteOffer> = {}): RouteOffer {
  const o = {
    offerId: BigInt(i),
    agentId: BigInt(i),
    modelId: 1n,
    model: "verity-tiny",
    url: `http://127.0.0.1:${9000 + i}`,
    inputPricePerMTok: 1_000_000n,
    outputPricePerMTok: 2_000_000n,
    maxOutputTokens: 512,
    stake: 100n,
    latencyMs: 10,
    failureRate: 0,
    queueDepth: 0,
    healthy: true,
    reputation: 0.5,
    inputPrice: 0,
    outputPrice: 0,
    ...overrides,
  };
  return { ...o, inputPrice: Number(o.inputPricePerMTok), outputPrice: Number(o.outputPricePerMTok) };
}

const request = { model: "verity-tiny", promptTokens: 20, maxTokens: 100 };

test("filters by model, price cap, output limit, health and exclusions", () => {
  const offers = [
    offer(1),
    offer(2, { model: "other" }),
    offer(3, { outputPricePerMTok: 9_000_000n }),
    offer(4, { maxOutputTokens: 50 }),
    offer(5, { healthy: false }),
    offer(6),
  ];
  const ids = eligible(offers, { ...request, maxPricePerMTok: { output: 5_000_000n }, exclude: new Set([6n]) }).map(
    (o) => o.agentId,
  );
  assert.deepEqual(ids, [1n]);
  assert.deepEqual(defaultRoutingPolicy(offers, { ...request, model: "missing" }, Math.random), []);
});

test("cheaper, faster, more reliable offers win more often, but load still spreads", () => {
  const offers = [
    offer(1),
    offer(2, { outputPricePerMTok: 3_000_000n }),
    offer(3, { failureRate: 0.5 }),
    offer(4, { latencyMs: 200 }),
  ];
  const wins = new Map<bigint, number>();
  let seed = 1;
  const random = () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  for (let i = 0; i < 20_000; i++) {
    const [first] = defaultRoutingPolicy(offers, request, random);
    wins.set(first?.agentId ?? 0n, (wins.get(first?.agentId ?? 0n) ?? 0) + 1);
  }
  const share = (id: bigint) => (wins.get(id) ?? 0) / 20_000;
  assert.ok(
    share(1n) > share(2n) && share(2n) > share(3n) && share(2n) > share(4n),
    String([...wins].map(([k, v]) => `${k}:${v}`)),
  );
  assert.ok(share(1n) < 0.9, "the best offer does not take everything");
  assert.ok(share(2n) > 0.05, "a slightly dearer offer still gets traffic");
});

test("returns the pick first and the best others as fallbacks", () => {
  const offers = Array.from({ length: 10 }, (_, i) => offer(i + 1, { latencyMs: 10 + i }));
  const route = defaultRoutingPolicy(offers, request, () => 0.5);
  assert.equal(route.length, 5);
  assert.equal(new Set(route.map((o) => o.agentId)).size, 5);
});

test("a quantization in the request keeps only offers announcing it", () => {
  const offers = [offer(1, { quantization: "bf16" }), offer(2, { quantization: "int4" }), offer(3)];
  assert.deepEqual(
    eligible(offers, { ...request, quantization: "int4" }).map((o) => o.agentId),
    [2n],
  );
  assert.deepEqual(
    defaultRoutingPolicy(offers, { ...request, quantization: "bf16" }, Math.random).map((o) => o.agentId),
    [1n],
  );
  assert.equal(eligible(offers, request).length, 3);
});

test("requests with tools skip offers below the tool-call floor and prefer better tool-call quality", () => {
  const offers = [
    offer(1, { toolCallScore: 0.2 }),
    offer(2, { toolCallScore: 0.6 }),
    offer(3, { toolCallScore: 1 }),
    offer(4),
  ];
  const withTools = { ...request, tools: true };
  assert.deepEqual(
    eligible(offers, withTools).map((o) => o.agentId),
    [2n, 3n, 4n],
  );
  // Without tools the score plays no part.
  assert.equal(eligible(offers, request).length, 4);
  let first3 = 0;
  let first2 = 0;
  for (let i = 0; i < 200; i++) {
    const [first] = defaultRoutingPolicy(offers.slice(1, 3), withTools, () => (i + 0.5) / 200);
    if (first?.agentId === 3n) first3++;
    else first2++;
  }
  assert.ok(first3 > first2, `${first3} vs ${first2}`);
});

test("a request with tools that every offer's tool-call score excludes is refused naming them", () => {
  const offers = [offer(1, { toolCallScore: 0.2 }), offer(2, { toolCallScore: 0.4 }), offer(3, { model: "other" })];
  const directory = { offers: () => offers } as unknown as OfferDirectory;
  const plan = (r: RouteRequest) =>
    planRoute({ directory, policy: defaultRoutingPolicy, request: r, feeBps: 0, decimals: 6, random: () => 0.5 });
  assert.equal(plan(request).route.length, 2, "a plain request is served");
  assert.deepEqual(toolCallExcluded(offers, { ...request, tools: true }), ["1", "2"]);
  assert.throws(
    () => plan({ ...request, tools: true }),
    (error: unknown) =>
      error instanceof RequestError &&
      error.code === "no_provider_matches" &&
      JSON.stringify(error.details) === JSON.stringify({ excluded: { tool_call_score: ["1", "2"] } }),
  );
});
