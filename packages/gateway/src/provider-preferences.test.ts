import assert from "node:assert/strict";
import { test } from "node:test";
import { BaseError } from "@verity/core";
import fc from "fast-check";
import {
  baseUnits,
  excludedBy,
  explainNoMatch,
  parseProviderPreferences,
  percentile,
  routeWithPreferences,
  withPriceCap,
} from "./provider-preferences.ts";
import { defaultRoutingPolicy, expectedCost, type RouteOffer, type RouteRequest } from "./routing-policy.ts";

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

const request: RouteRequest = { model: "verity-tiny", promptTokens: 20, maxTokens: 100 };
const DECIMALS = 6;

function route(offers: RouteOffer[], provider: unknown, req: RouteRequest = request): bigint[] {
  const prefs = parseProviderPreferences(provider);
  assert.ok(prefs);
  return routeWithPreferences({
    offers,
    request: withPriceCap(req, prefs, DECIMALS),
    prefs,
    policy: defaultRoutingPolicy,
    random: () => 0,
  }).map((o) => o.agentId);
}

function refusal(value: unknown): BaseError {
  try {
    parseProviderPreferences(value);
  } catch (error) {
    assert.ok(error instanceof BaseError);
    return error;
  }
  assert.fail("accepted");
}

test("parses OpenRouter's provider object; absent or null is no preferences", () => {
  assert.equal(parseProviderPreferences(undefined), undefined);
  assert.equal(parseProviderPreferences(null), undefined);
  const prefs = parseProviderPreferences({
    order: [3, "2", "agent:1"],
    allow_fallbacks: false,
    sort: "price",
    max_price: { prompt: 1, completion: "2.5" },
    quantizations: ["fp8"],
    data_collection: "deny",
    preferred_max_latency: { p90: 2 },
    preferred_min_throughput: 30,
  });
  assert.deepEqual(prefs?.order, [3n, 2n, 1n]);
  assert.equal(prefs?.sort, "price");
});

test("a malformed provider object is provider_preferences_invalid naming the field", () => {
  for (const [value, field] of [
    [{ sort: "cheapest" }, "provider.sort"],
    [{ order: ["alice"] }, "provider.order.0"],
    [{ max_price: { prompt: -1 } }, "provider.max_price.prompt"],
    [{ max_price: { request: 1 } }, "provider.max_price"],
    [{ quantizations: "fp8" }, "provider.quantizations"],
    [{ data_collection: "maybe" }, "provider.data_collection"],
    [{ preferred_max_latency: {} }, "provider.preferred_max_latency"],
    [{ require_parameters: true }, "provider"],
    ["fp8", "provider"],
  ] as const) {
    const error = refusal(value);
    assert.equal(error.code, "provider_preferences_invalid", JSON.stringify(value));
    assert.equal(error.details.field, field, JSON.stringify(value));
  }
});

test("order puts the named providers first, in that order, then the others as fallbacks", () => {
  const offers = [offer(1), offer(2), offer(3)];
  const ids = route(offers, { order: [3, 1] });
  assert.deepEqual(ids.slice(0, 2), [3n, 1n]);
  assert.deepEqual(new Set(ids), new Set([1n, 2n, 3n]));
});

test("allow_fallbacks false: only the providers named in order, or without order only the first choice", () => {
  const offers = [offer(1), offer(2), offer(3)];
  assert.deepEqual(route(offers, { order: [3], allow_fallbacks: false }), [3n]);
  assert.deepEqual(route(offers, { order: [9, 2], allow_fallbacks: false }), [2n]);
  assert.deepEqual(route(offers, { order: [9], allow_fallbacks: false }), []);
  assert.equal(route(offers, { allow_fallbacks: false }).length, 1);
});

test("only and ignore match agent ids and are hard filters", () => {
  const offers = [offer(1), offer(2), offer(3)];
  assert.deepEqual(new Set(route(offers, { only: [1, 3] })), new Set([1n, 3n]));
  assert.deepEqual(new Set(route(offers, { ignore: ["agent:2"] })), new Set([1n, 3n]));
  // order cannot bring back an ignored provider
  assert.deepEqual(route(offers, { order: [2], ignore: [2], allow_fallbacks: false }), []);
});

test("quantizations keep only offers announcing one of them; an offer announcing none never serves", () => {
  const offers = [offer(1, { quantization: "bf16" }), offer(2, { quantization: "fp8" }), offer(3)];
  assert.deepEqual(route(offers, { quantizations: ["FP8"] }), [2n]);
  assert.deepEqual(new Set(route(offers, { quantizations: ["fp8", "bf16"] })), new Set([1n, 2n]));
  assert.deepEqual(route(offers, { quantizations: ["int4"] }), []);
});

test("data_collection deny keeps only providers that announce deny", () => {
  const offers = [offer(1, { dataCollection: "allow" }), offer(2, { dataCollection: "deny" }), offer(3)];
  assert.deepEqual(route(offers, { data_collection: "deny" }), [2n]);
  assert.equal(route(offers, { data_collection: "allow" }).length, 3);
});

test("max_price is whole tokens per 1M, the lower of it and the header cap, never a fallback above it", () => {
  const offers = [offer(1, { outputPricePerMTok: 1_000_000n }), offer(2, { outputPricePerMTok: 3_000_000n })];
  assert.deepEqual(route(offers, { max_price: { completion: 1 } }), [1n]);
  assert.deepEqual(route(offers, { max_price: { completion: "0.99" } }), []);
  assert.deepEqual(route(offers, { max_price: { prompt: 0.5 } }), []);
  const header = { ...request, maxPricePerMTok: { output: 500_000n } };
  assert.deepEqual(route(offers, { max_price: { completion: 5 } }, header), []);
  const prefs = parseProviderPreferences({ max_price: { prompt: 2, completion: 5 } });
  assert.ok(prefs);
  assert.deepEqual(withPriceCap(header, prefs, DECIMALS).maxPricePerMTok, { input: 2_000_000n, output: 500_000n });
});

test("baseUnits reads decimal amounts exactly and rounds down past the token's decimals", () => {
  assert.equal(baseUnits("1.5", 6), 1_500_000n);
  assert.equal(baseUnits(0.1, 6), 100_000n);
  assert.equal(baseUnits(1e-7, 6), 0n);
  assert.equal(baseUnits("0.0000019", 6), 1n);
  assert.equal(baseUnits(3, 18), 3n * 10n ** 18n);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 10 ** 12 }), fc.integer({ min: 0, max: 18 }), (units, decimals) => {
      const text = (BigInt(units) * 10n ** BigInt(18 - decimals)).toString().padStart(19, "0");
      const value = `${text.slice(0, -18)}.${text.slice(-18)}`;
      return baseUnits(value, 18) === BigInt(units) * 10n ** BigInt(18 - decimals);
    }),
  );
});

test("sort by price orders by expected cost; latency and throughput by their median samples", () => {
  const offers = [
    offer(1, { outputPricePerMTok: 3_000_000n, latencySamples: [50, 60], throughputSamples: [10] }),
    offer(2, { outputPricePerMTok: 1_000_000n, latencySamples: [500, 700], throughputSamples: [80] }),
    offer(3, { outputPricePerMTok: 2_000_000n, latencySamples: [100], throughputSamples: [40] }),
  ];
  assert.deepEqual(route(offers, { sort: "price" }), [2n, 3n, 1n]);
  assert.deepEqual(route(offers, { sort: "latency" }), [1n, 3n, 2n]);
  assert.deepEqual(route(offers, { sort: "throughput" }), [2n, 3n, 1n]);
});

test("percentile cut-offs reorder (offers meeting them first) but exclude nobody", () => {
  const offers = [
    offer(1, { outputPricePerMTok: 1_000_000n, latencySamples: [4000, 5000] }),
    offer(2, { outputPricePerMTok: 2_000_000n, latencySamples: [100, 200] }),
    offer(3, { outputPricePerMTok: 3_000_000n }),
  ];
  assert.deepEqual(route(offers, { sort: "price", preferred_max_latency: 1 }), [2n, 1n, 3n]);
  assert.deepEqual(route(offers, { sort: "price", preferred_max_latency: { p99: 0.15 } }), [1n, 2n, 3n]);
  assert.deepEqual(route(offers, { sort: "price", preferred_min_throughput: 10 }), [1n, 2n, 3n]);
});

test("percentile is the nearest-rank quantile", () => {
  assert.equal(percentile([], 0.5), undefined);
  assert.equal(percentile([3, 1, 2], 0.5), 2);
  assert.equal(percentile([1, 2, 3, 4], 0.99), 4);
  fc.assert(
    fc.property(
      fc.array(fc.double({ noNaN: true, min: 0, max: 1e6 }), { minLength: 1 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (xs, q) => {
        const p = percentile(xs, q) as number;
        return xs.includes(p) && xs.filter((x) => x <= p).length >= Math.ceil(q * xs.length);
      },
    ),
  );
});

test("property: the route never holds an offer a hard filter excludes, nor a pricier or other-model one", () => {
  const arbOffer = fc.record({
    id: fc.integer({ min: 1, max: 8 }),
    out: fc.integer({ min: 0, max: 5 }),
    quantization: fc.option(fc.constantFrom("bf16", "fp8", "int4"), { nil: undefined }),
    dataCollection: fc.option(fc.constantFrom("allow" as const, "deny" as const), { nil: undefined }),
    model: fc.constantFrom("verity-tiny", "other"),
  });
  const arbPrefs = fc.record(
    {
      order: fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 3 }),
      only: fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 4 }),
      ignore: fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 3 }),
      allow_fallbacks: fc.boolean(),
      sort: fc.constantFrom("price", "latency", "throughput"),
      max_price: fc.record({ completion: fc.integer({ min: 0, max: 5 }) }),
      quantizations: fc.array(fc.constantFrom("bf16", "fp8", "int4"), { maxLength: 2 }),
      data_collection: fc.constantFrom("allow", "deny"),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(fc.array(arbOffer, { maxLength: 8 }), arbPrefs, (specs, raw) => {
      const offers = specs.map((s, i) =>
        offer(i + 1, {
          agentId: BigInt(s.id),
          model: s.model,
          outputPricePerMTok: BigInt(s.out) * 1_000_000n,
          ...(s.quantization ? { quantization: s.quantization } : {}),
          ...(s.dataCollection ? { dataCollection: s.dataCollection } : {}),
        }),
      );
      const prefs = parseProviderPreferences(raw);
      assert.ok(prefs);
      const capped = withPriceCap(request, prefs, DECIMALS);
      const chosen = routeWithPreferences({
        offers,
        request: capped,
        prefs,
        policy: defaultRoutingPolicy,
        random: Math.random,
      });
      for (const o of chosen) {
        assert.equal(o.model, request.model);
        assert.equal(excludedBy(o, prefs, capped), undefined);
        if (raw.max_price) assert.ok(o.outputPricePerMTok <= BigInt(raw.max_price.completion) * 1_000_000n);
      }
      if (raw.allow_fallbacks === false && !(raw.order && raw.order.length > 0)) assert.ok(chosen.length <= 1);
      if (raw.allow_fallbacks === false && raw.order && raw.order.length > 0)
        for (const o of chosen) assert.ok(raw.order.includes(Number(o.agentId)));
      if (raw.sort === "price")
        for (let i = 1; i < chosen.length; i++)
          assert.ok(expectedCost(chosen[i - 1] as RouteOffer, capped) <= expectedCost(chosen[i] as RouteOffer, capped));
    }),
  );
});

test("explainNoMatch names which preference excluded which provider", () => {
  const offers = [
    offer(1, { quantization: "bf16", dataCollection: "deny" }),
    offer(2, { quantization: "fp8" }),
    offer(3, { quantization: "fp8", dataCollection: "deny", outputPricePerMTok: 9_000_000n }),
    offer(4, { model: "other" }),
  ];
  const prefs = parseProviderPreferences({
    ignore: [1],
    quantizations: ["fp8"],
    data_collection: "deny",
    max_price: { completion: 5 },
  });
  assert.ok(prefs);
  const capped = withPriceCap(request, prefs, DECIMALS);
  assert.deepEqual(explainNoMatch({ offers, base: request, capped, prefs }), {
    ignore: ["1"],
    data_collection: ["2"],
    max_price: ["3"],
  });
  const ordered = parseProviderPreferences({ order: [9], allow_fallbacks: false });
  assert.ok(ordered);
  assert.deepEqual(explainNoMatch({ offers, base: request, capped: request, prefs: ordered }), {
    order: ["1", "2", "3"],
  });
});
