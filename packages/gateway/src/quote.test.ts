import assert from "node:assert/strict";
import { test } from "node:test";
import { quote } from "./quote.ts";
import type { RouteOffer } from "./routing-policy.ts";

function offer(i: number, o: Partial<RouteOffer> = {}): RouteOffer {
  const base = {
    offerId: BigInt(i),
    agentId: BigInt(i),
    modelId: 1n,
    model: "verity-tiny",
    url: `http://127.0.0.1:${9000 + i}`,
    inputPricePerMTok: 1_000_000n,
    outputPricePerMTok: 2_000_000n,
    inputPrice: 0,
    outputPrice: 0,
    maxOutputTokens: 512,
    stake: 1n,
    latencyMs: 10,
    failureRate: 0,
    queueDepth: 0,
    healthy: true,
    reputation: 0.5,
    ...o,
  };
  return { ...base, inputPrice: Number(base.inputPricePerMTok), outputPrice: Number(base.outputPricePerMTok) };
}
const req = { model: "verity-tiny", promptTokens: 10, maxTokens: 100 };

test("quotes the cheapest eligible provider", () => {
  const q = quote({ offers: [offer(1, { outputPricePerMTok: 3_000_000n }), offer(2)], request: req });
  assert.equal(q.servable, true);
  assert.equal(q.expectedPrice, "210");
  assert.equal(q.providers[0]?.agentId, "2");
});

test("says why nothing would be served, in an order a user can act on", () => {
  assert.equal(quote({ offers: [], request: req }).reason, "no_offer_for_model");
  assert.equal(quote({ offers: [offer(1, { maxOutputTokens: 50 })], request: req }).reason, "max_tokens_over_offer");
  assert.equal(
    quote({ offers: [offer(1)], request: { ...req, maxPricePerMTok: { output: 1n } } }).reason,
    "all_above_max_price",
  );
  assert.equal(quote({ offers: [offer(1, { healthy: false })], request: req }).reason, "all_unhealthy");
  assert.equal(quote({ offers: [offer(1)], request: req, canPay: () => false }).reason, "insufficient_escrow");
});

test("a quantization filter keeps only offers announcing it, else no_offer_for_quantization", () => {
  const offers = [
    offer(1, { quantization: "bf16", outputPricePerMTok: 3_000_000n }),
    offer(2, { quantization: "int4" }),
    offer(3),
  ];
  const q = quote({ offers, request: { ...req, quantization: "bf16" } });
  assert.equal(q.servable, true);
  assert.deepEqual(
    q.providers.filter((p) => p.eligible).map((p) => [p.agentId, p.quantization]),
    [["1", "bf16"]],
  );
  assert.equal(quote({ offers, request: { ...req, quantization: "fp8" } }).reason, "no_offer_for_quantization");
  assert.equal(quote({ offers, request: req }).expectedPrice, "210", "no filter: every offer, unannounced included");
});
