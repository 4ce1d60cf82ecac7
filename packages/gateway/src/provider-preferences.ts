/**
 * OpenRouter-style provider preferences: the `provider` object of a chat or text completion
 * (`extra_body={"provider": {...}}` with the official `openai` client) — `order`, `only`,
 * `ignore`, `allow_fallbacks`, `sort` (price / latency / throughput), `max_price`,
 * `quantizations`, `data_collection`, and the percentile cut-offs `preferred_max_latency` /
 * `preferred_min_throughput`. Providers are named by their ERC-8004 agent id (unique, on chain), not
 * by the name in their registration file, which any provider may choose and copy. Fields this
 * gateway does not implement are refused (400), never silently ignored.
 *
 * Rules: filters (`only`, `ignore`, `quantizations`, `data_collection: "deny"`, `max_price`) are
 * hard — an offer outside them is never used, not even as a fallback, so there is no silent
 * fallback to a pricier offer or another quantization; the model is never changed. Cut-offs only
 * reorder (offers meeting them first), as on OpenRouter. `order` puts the named providers first in
 * that order; `allow_fallbacks: false` then keeps only them (or, without `order`, only the first
 * choice).
 */
import { RequestError } from "@verity/core";
import { z } from "zod";
import { eligible, expectedCost, type RouteOffer, type RouteRequest, type RoutingPolicy } from "./routing-policy.ts";

/** An agent id: 12, "12" or "agent:12" (the `owned_by` of the provider's `/v1/models`). */
const agentRef = z
  .union([
    z.string().regex(/^(agent:)?\d{1,20}$/, "must be an agent id such as 12 or agent:12"),
    z.number().int().positive(),
  ])
  .transform((v) => BigInt(typeof v === "string" ? v.replace("agent:", "") : v));
const agents = z.array(agentRef).max(64);
const percentiles = z
  .object({
    p50: z.number().positive().optional(),
    p75: z.number().positive().optional(),
    p90: z.number().positive().optional(),
    p99: z.number().positive().optional(),
  })
  .strict()
  .refine((v) => Object.keys(v).length > 0, "name at least one of p50, p75, p90, p99");
const cutoff = z.union([z.number().positive(), percentiles]);
/** A price per 1M tokens in the payment token (e.g. 1.5 = 1.5 TUSD), as a number or decimal string. */
const price = z.union([z.number().nonnegative().max(1e15), z.string().regex(/^\d{1,18}(\.\d{1,18})?$/)]);

export const providerPreferencesSchema = z
  .object({
    order: agents.optional(),
    only: agents.optional(),
    ignore: agents.optional(),
    allow_fallbacks: z.boolean().optional(),
    sort: z.enum(["price", "latency", "throughput"]).optional(),
    max_price: z.object({ prompt: price.optional(), completion: price.optional() }).strict().optional(),
    quantizations: z
      .array(z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,31}$/))
      .max(16)
      .optional(),
    data_collection: z.enum(["allow", "deny"]).optional(),
    /** Seconds (OpenRouter's unit), a number (= p50) or per percentile. */
    preferred_max_latency: cutoff.optional(),
    /** Output tokens per second, a number (= p50) or per percentile. */
    preferred_min_throughput: cutoff.optional(),
  })
  .strict();

export type ProviderPreferences = z.output<typeof providerPreferencesSchema>;

/** Parses `body.provider` (untrusted); a bad one is `provider_preferences_invalid` naming the field. */
export function parseProviderPreferences(value: unknown): ProviderPreferences | undefined {
  if (value === undefined || value === null) return undefined;
  const parsed = providerPreferencesSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = `provider${issue?.path.length ? `.${issue.path.join(".")}` : ""}`;
    throw new RequestError(`Invalid provider preferences: ${field} ${issue?.message}`, {
      code: "provider_preferences_invalid",
      details: { field },
      hint: "See the provider object: order, only, ignore, allow_fallbacks, sort, max_price, quantizations, data_collection, preferred_max_latency, preferred_min_throughput",
    });
  }
  return parsed.data;
}

/** A decimal amount of the token (number or string) in base units, rounded down (a cap never grows). */
export function baseUnits(value: number | string, decimals: number): bigint {
  const text = typeof value === "number" ? value.toFixed(Math.min(100, decimals + 2)) : value;
  const [whole = "0", fraction = ""] = text.split(".");
  return BigInt(whole) * 10n ** BigInt(decimals) + BigInt((fraction + "0".repeat(decimals)).slice(0, decimals) || "0");
}

/** The q-quantile (0…1) of `samples`, or undefined without samples. */
export function percentile(samples: readonly number[] | undefined, q: number): number | undefined {
  if (!samples || samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

const QUANTILES = { p50: 0.5, p75: 0.75, p90: 0.9, p99: 0.99 } as const;

function meets(
  samples: readonly number[] | undefined,
  limit: z.output<typeof cutoff>,
  ok: (value: number, bound: number) => boolean,
  scale: number,
): boolean {
  const bounds = typeof limit === "number" ? { p50: limit } : limit;
  for (const [name, bound] of Object.entries(bounds)) {
    if (bound === undefined) continue;
    const value = percentile(samples, QUANTILES[name as keyof typeof QUANTILES]);
    if (value === undefined || !ok(value, bound * scale)) return false;
  }
  return true;
}

/** The request with the preferences' price cap folded in (the lower of it and any header cap). */
export function withPriceCap(request: RouteRequest, prefs: ProviderPreferences, decimals: number): RouteRequest {
  const cap = prefs.max_price;
  if (!cap) return request;
  const lower = (a: bigint | undefined, b: bigint | undefined) =>
    a === undefined ? b : b === undefined ? a : a < b ? a : b;
  const input = lower(
    request.maxPricePerMTok?.input,
    cap.prompt === undefined ? undefined : baseUnits(cap.prompt, decimals),
  );
  const output = lower(
    request.maxPricePerMTok?.output,
    cap.completion === undefined ? undefined : baseUnits(cap.completion, decimals),
  );
  return {
    ...request,
    maxPricePerMTok: { ...(input === undefined ? {} : { input }), ...(output === undefined ? {} : { output }) },
  };
}

/** The preference that keeps an offer out of the route, or undefined when the offer may serve. */
export type ExcludedBy = "only" | "ignore" | "quantizations" | "data_collection" | "max_price";

/** Why `prefs` keep `offer` out (hard filters only; the price cap is checked on `request`). */
export function excludedBy(
  offer: RouteOffer,
  prefs: ProviderPreferences,
  request: RouteRequest,
): ExcludedBy | undefined {
  if (prefs.only && !prefs.only.includes(offer.agentId)) return "only";
  if (prefs.ignore?.includes(offer.agentId)) return "ignore";
  if (prefs.quantizations) {
    const q = offer.quantization?.toLowerCase();
    if (q === undefined || !prefs.quantizations.some((wanted) => wanted.toLowerCase() === q)) return "quantizations";
  }
  if (prefs.data_collection === "deny" && offer.dataCollection !== "deny") return "data_collection";
  const cap = request.maxPricePerMTok;
  if (
    prefs.max_price &&
    ((cap?.input !== undefined && offer.inputPricePerMTok > cap.input) ||
      (cap?.output !== undefined && offer.outputPricePerMTok > cap.output))
  )
    return "max_price";
  return undefined;
}

/**
 * The offers to try, best first, under `prefs` (with `request` already capped by `withPriceCap`).
 * Empty when nothing matches: the caller answers with `explainNoMatch`.
 */
export function routeWithPreferences(args: {
  offers: readonly RouteOffer[];
  request: RouteRequest;
  prefs: ProviderPreferences;
  policy: RoutingPolicy;
  random: () => number;
  maxRoute?: number;
}): RouteOffer[] {
  const { prefs, request } = args;
  const allowed = eligible(args.offers, request).filter((o) => excludedBy(o, prefs, request) === undefined);
  let ranked: RouteOffer[];
  if (prefs.sort === "price") {
    ranked = [...allowed].sort((a, b) => {
      const ca = expectedCost(a, request);
      const cb = expectedCost(b, request);
      return ca < cb ? -1 : ca > cb ? 1 : 0;
    });
  } else if (prefs.sort === "latency") {
    const p50 = (o: RouteOffer) => percentile(o.latencySamples, 0.5) ?? o.latencyMs;
    ranked = [...allowed].sort((a, b) => p50(a) - p50(b));
  } else if (prefs.sort === "throughput") {
    const p50 = (o: RouteOffer) => percentile(o.throughputSamples, 0.5) ?? -1;
    ranked = [...allowed].sort((a, b) => p50(b) - p50(a));
  } else {
    // The gateway's own policy first (it spreads load), then every other allowed offer.
    const chosen = args.policy(allowed, request, args.random);
    const seen = new Set(chosen);
    ranked = [...chosen, ...allowed.filter((o) => !seen.has(o))];
  }
  const latency = prefs.preferred_max_latency;
  const throughput = prefs.preferred_min_throughput;
  if (latency !== undefined || throughput !== undefined) {
    const good = (o: RouteOffer) =>
      (latency === undefined || meets(o.latencySamples, latency, (v, b) => v <= b, 1000)) &&
      (throughput === undefined || meets(o.throughputSamples, throughput, (v, b) => v >= b, 1));
    ranked = [...ranked.filter(good), ...ranked.filter((o) => !good(o))];
  }
  if (prefs.order && prefs.order.length > 0) {
    const named = prefs.order
      .map((id) => ranked.find((o) => o.agentId === id))
      .filter((o): o is RouteOffer => o !== undefined);
    const set = new Set(named);
    ranked = prefs.allow_fallbacks === false ? named : [...named, ...ranked.filter((o) => !set.has(o))];
  } else if (prefs.allow_fallbacks === false) {
    ranked = ranked.slice(0, 1);
  }
  return ranked.slice(0, args.maxRoute ?? 5);
}

/**
 * Why no offer is left: for each offer the request without preferences (`base`) would take, the
 * preference that excluded it under `capped` (`base` with `withPriceCap`); `order` when
 * `allow_fallbacks: false` kept only the providers named in `order` and none of them is eligible.
 */
export function explainNoMatch(args: {
  offers: readonly RouteOffer[];
  base: RouteRequest;
  capped: RouteRequest;
  prefs: ProviderPreferences;
}): Partial<Record<ExcludedBy | "order", string[]>> {
  const out: Partial<Record<ExcludedBy | "order", string[]>> = {};
  for (const offer of eligible(args.offers, args.base)) {
    const by = excludedBy(offer, args.prefs, args.capped) ?? (args.prefs.order ? "order" : undefined);
    if (by) out[by] = [...(out[by] ?? []), offer.agentId.toString()];
  }
  return out;
}
