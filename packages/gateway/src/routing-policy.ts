import { chargeFor } from "@verity/core";

/** A live offer as the router sees it: price, limits and what the health probes measured. */
export type RouteOffer = {
  offerId: bigint;
  agentId: bigint;
  modelId: bigint;
  model: string;
  url: string;
  inputPricePerMTok: bigint;
  outputPricePerMTok: bigint;
  /** The same prices as doubles (exact below 2^53), for scoring without BigInt arithmetic. */
  inputPrice: number;
  outputPrice: number;
  maxOutputTokens: number;
  stake: bigint;
  /** Smoothed round-trip of `/health`, ms. */
  latencyMs: number;
  /** Smoothed share of failed probes and requests, 0…1. */
  failureRate: number;
  queueDepth: number;
  healthy: boolean;
  /** Why it is unhealthy whatever the probes say: `endpoint_forbidden` (the endpoint guard refused it). */
  unhealthyReason?: "endpoint_forbidden";
  /** Reputation score 0…1 from the registries (0.5 when unknown). */
  reputation: number;
  /** The quantization the provider announces for the model (from its manifest), when it does. */
  quantization?: string;
  /**
   * Tool-call quality 0…1 as validators publish it (valid tool calls / all, smoothed), when known:
   * for requests with `tools`, offers below `TOOL_CALL_FLOOR` are skipped and the rest weighted by it.
   */
  toolCallScore?: number;
  /** What the provider promises about request data (its `/health`); absent = no promise. */
  dataCollection?: "allow" | "deny";
  /** Latest round trips, ms, and output tokens per second of served requests (for percentile cut-offs). */
  latencySamples?: readonly number[];
  throughputSamples?: readonly number[];
};

/** Least tool-call quality an offer needs to be routed requests that offer tools. */
export const TOOL_CALL_FLOOR = 0.5;

export type RouteRequest = {
  model: string;
  promptTokens: number;
  maxTokens: number;
  /** Most the caller pays per 1M tokens (either side); offers above are skipped. */
  maxPricePerMTok?: { input?: bigint; output?: bigint };
  /** Agents not to use (already failed for this request, or flagged). */
  exclude?: ReadonlySet<bigint>;
  /** Only offers announcing this quantization (`Verity-Quantization` header), e.g. `bf16`. */
  quantization?: string;
  /** The request offers tools (function calling): tool-call quality counts. */
  tools?: boolean;
};

export type RoutingPolicy = (
  offers: readonly RouteOffer[],
  request: RouteRequest,
  random: () => number,
) => RouteOffer[];

/** Expected cost of the request on an offer, in base units (prompt + max output). */
export function expectedCost(offer: RouteOffer, request: RouteRequest): bigint {
  return chargeFor({
    price: { inputPerMTok: offer.inputPricePerMTok, outputPerMTok: offer.outputPricePerMTok },
    promptTokens: request.promptTokens,
    completionTokens: request.maxTokens,
  });
}

function accepts(o: RouteOffer, request: RouteRequest, maxIn: number, maxOut: number): boolean {
  return (
    o.model === request.model &&
    o.healthy &&
    o.maxOutputTokens >= request.maxTokens &&
    o.inputPrice <= maxIn &&
    o.outputPrice <= maxOut &&
    (request.quantization === undefined || o.quantization === request.quantization) &&
    (request.tools !== true || o.toolCallScore === undefined || o.toolCallScore >= TOOL_CALL_FLOOR) &&
    (request.exclude === undefined || request.exclude.size === 0 || !request.exclude.has(o.agentId))
  );
}

function caps(request: RouteRequest): [number, number] {
  const input = request.maxPricePerMTok?.input;
  const output = request.maxPricePerMTok?.output;
  return [
    input === undefined ? Number.POSITIVE_INFINITY : Number(input),
    output === undefined ? Number.POSITIVE_INFINITY : Number(output),
  ];
}

/** Offers that could serve the request at all (model, price cap, output limit, health, exclusions). */
export function eligible(offers: readonly RouteOffer[], request: RouteRequest): RouteOffer[] {
  const [maxIn, maxOut] = caps(request);
  return offers.filter((o) => accepts(o, request, maxIn, maxOut));
}

/**
 * Agents of the offers a request with tools would take but for their tool-call score (below
 * `TOOL_CALL_FLOOR`): what a `no_provider_matches` refusal names as `tool_call_score`.
 */
export function toolCallExcluded(offers: readonly RouteOffer[], request: RouteRequest): string[] {
  if (request.tools !== true) return [];
  return eligible(offers, { ...request, tools: false })
    .filter((o) => o.toolCallScore !== undefined && o.toolCallScore < TOOL_CALL_FLOOR)
    .map((o) => o.agentId.toString());
}

const FALLBACKS = 4;

/**
 * Default policy: score = expected cost × (latency + queue) × failure risk ÷ reputation (× 1.5/(0.5 +
 * tool-call quality) for requests with tools), lower is
 * better; the first choice is drawn at random with weight 1/score² so load spreads over good
 * offers instead of piling onto the single cheapest one; the next best follow as fallbacks.
 * One pass over the offers in plain floating point (prices fit a double exactly), no sorting of the
 * whole set, no allocation per offer.
 */
export const defaultRoutingPolicy: RoutingPolicy = (offers, request, random) => {
  const [maxIn, maxOut] = caps(request);
  const n = offers.length;
  const index = new Int32Array(n);
  const weight = new Float64Array(n);
  const score = new Float64Array(n);
  let count = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const o = offers[i] as RouteOffer;
    if (!accepts(o, request, maxIn, maxOut)) continue;
    const cost = (request.promptTokens * o.inputPrice + request.maxTokens * o.outputPrice) / 1e6 + 1;
    const tools = request.tools === true && o.toolCallScore !== undefined ? 1.5 / (0.5 + o.toolCallScore) : 1;
    const s = (tools * cost * (o.latencyMs + 5 + o.queueDepth * 50) * (1 + 10 * o.failureRate)) / (0.5 + o.reputation);
    index[count] = i;
    score[count] = s;
    const w = 1 / (s * s);
    weight[count] = w;
    total += w;
    count++;
  }
  if (count === 0) return [];
  let target = random() * total;
  let first = count - 1;
  for (let k = 0; k < count; k++) {
    target -= weight[k] as number;
    if (target <= 0) {
      first = k;
      break;
    }
  }
  // The best few others, kept in a tiny sorted array.
  const best: number[] = [];
  for (let k = 0; k < count; k++) {
    if (k === first) continue;
    const s = score[k] as number;
    if (best.length === FALLBACKS && s >= (score[best[FALLBACKS - 1] as number] as number)) continue;
    let at = best.length;
    while (at > 0 && (score[best[at - 1] as number] as number) > s) at--;
    best.splice(at, 0, k);
    if (best.length > FALLBACKS) best.pop();
  }
  return [first, ...best].map((k) => offers[index[k] as number] as RouteOffer);
};
