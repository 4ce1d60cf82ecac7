/**
 * Route decision over 10,000 live offers with the gateway's default policy (filter, score, weighted
 * pick, fallbacks). Target: well under 1 ms per decision.
 */
import { defaultRoutingPolicy, type RouteOffer } from "../packages/gateway/src/routing-policy.ts";

const OFFERS = 10_000;
const DECISIONS = 2_000;
let seed = 42;
const random = () => {
  seed = (seed * 16807) % 2147483647;
  return seed / 2147483647;
};
const models = ["verity-tiny", "llama-3.1-8b", "qwen-2.5-7b", "mistral-7b"];
const offers: RouteOffer[] = Array.from({ length: OFFERS }, (_, i) =>
  withNumbers({
    offerId: BigInt(i),
    agentId: BigInt(i),
    modelId: BigInt(i % models.length),
    model: models[i % models.length] as string,
    url: `http://10.0.${i >> 8}.${i & 255}:8600`,
    inputPricePerMTok: BigInt(Math.floor(100_000 + random() * 900_000)),
    outputPricePerMTok: BigInt(Math.floor(200_000 + random() * 1_800_000)),
    maxOutputTokens: 512 + Math.floor(random() * 4) * 512,
    stake: 1_000_000_000n,
    latencyMs: 5 + random() * 200,
    failureRate: random() * 0.1,
    queueDepth: Math.floor(random() * 4),
    healthy: random() > 0.05,
    reputation: random(),
    inputPrice: 0,
    outputPrice: 0,
  }),
);
function withNumbers(o: RouteOffer): RouteOffer {
  return { ...o, inputPrice: Number(o.inputPricePerMTok), outputPrice: Number(o.outputPricePerMTok) };
}
// Every offer is for the requested model in the worst case; measure both.
const allSame = offers.map((o) => ({ ...o, model: "verity-tiny" }));

function measure(set: RouteOffer[]): { mean: number; p99: number } {
  const times: number[] = [];
  for (let i = 0; i < 200; i++)
    defaultRoutingPolicy(set, { model: "verity-tiny", promptTokens: 200, maxTokens: 256 }, random);
  for (let i = 0; i < DECISIONS; i++) {
    const started = performance.now();
    defaultRoutingPolicy(
      set,
      { model: "verity-tiny", promptTokens: 200, maxTokens: 256, maxPricePerMTok: { output: 1_800_000n } },
      random,
    );
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { mean: times.reduce((a, b) => a + b, 0) / times.length, p99: times[Math.floor(times.length * 0.99)] ?? 0 };
}

for (const [name, set] of [
  ["quarter_match", offers],
  ["all_match", allSame],
] as const) {
  const { mean, p99 } = measure(set);
  for (const [metric, value] of [
    [`decision_mean_${name}`, mean],
    [`decision_p99_${name}`, p99],
  ] as const) {
    console.log(
      JSON.stringify({
        bench: "route-decision",
        metric,
        value: Math.round(value * 1000) / 1000,
        unit: "ms",
        baseline: 1,
        ratio: Math.round(value * 1000) / 1000,
        offers: OFFERS,
      }),
    );
  }
}
