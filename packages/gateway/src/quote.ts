import { noMatchMessage, preferredRoute } from "./preferred-route.ts";
import type { ExcludedBy, ProviderPreferences } from "./provider-preferences.ts";
import { expectedCost, type RouteOffer, type RouteRequest, type RoutingPolicy } from "./routing-policy.ts";

/** Why no provider would serve a request (stable codes, also reason codes of the gateway). */
export type NotServedReason =
  | "no_offer_for_model"
  | "no_offer_for_quantization"
  | "all_above_max_price"
  | "all_unhealthy"
  | "max_tokens_over_offer"
  | "insufficient_escrow"
  | "no_provider_matches";

export type Quote = {
  model: string;
  servable: boolean;
  reason?: NotServedReason;
  message?: string;
  /**
   * Expected price of the request, in base units: on the cheapest eligible provider, or with
   * `provider` preferences on the first provider of `route` (the one a request is sent to first).
   */
  expectedPrice?: string;
  /** With `provider` preferences: the agent ids a request would be tried on, in that order. */
  route?: string[];
  /** With `provider` preferences and no route: which preference excluded which agent ids. */
  excluded?: Partial<Record<ExcludedBy | "order", string[]>>;
  providers: {
    agentId: string;
    url: string;
    inputPricePerMTok: string;
    outputPricePerMTok: string;
    expectedCost: string;
    healthy: boolean;
    latencyMs: number;
    quantization?: string;
    eligible: boolean;
  }[];
};

/**
 * "Will this be served?": which providers would take the request, what it should cost, and when
 * none would, the reason — checked in the order a user can act on: model, output limit, price,
 * health, and finally the gateway's own funds to pay a provider. With `prefs` (a `provider`
 * object) the request must first be servable without them; then the providers are those
 * `preferredRoute` — the same code the chat route routes with — leaves, in its order, and none
 * left is `no_provider_matches` naming the preference that excluded each.
 */
export function quote(args: {
  offers: readonly RouteOffer[];
  request: RouteRequest;
  canPay?: (offer: RouteOffer, cost: bigint) => boolean;
  prefs?: ProviderPreferences | undefined;
  /** With `prefs`: the payment token's decimals and the gateway's routing policy. */
  decimals?: number;
  policy?: RoutingPolicy;
  random?: () => number;
}): Quote {
  const base = plainQuote(args);
  const { prefs, policy } = args;
  if (!prefs || !base.servable || !policy) return base;
  const { route, capped, excluded } = preferredRoute({
    offers: args.offers,
    request: args.request,
    prefs,
    decimals: args.decimals ?? 6,
    policy,
    ...(args.random ? { random: args.random } : {}),
  });
  const payable = route.filter((o) => args.canPay?.(o, expectedCost(o, capped)) ?? true);
  const ids = payable.map((o) => o.agentId.toString());
  const providers = base.providers.map((p) => ({ ...p, eligible: ids.includes(p.agentId) }));
  const first = payable[0];
  if (!first) {
    return {
      model: args.request.model,
      servable: false,
      reason: route.length === 0 ? "no_provider_matches" : "insufficient_escrow",
      message:
        route.length === 0
          ? noMatchMessage(args.request.model, excluded)
          : "The gateway has no funds to pay a provider for this request",
      providers,
      route: [],
      ...(excluded ? { excluded } : {}),
    };
  }
  return {
    model: args.request.model,
    servable: true,
    expectedPrice: expectedCost(first, capped).toString(),
    providers,
    route: ids,
  };
}

function plainQuote(args: {
  offers: readonly RouteOffer[];
  request: RouteRequest;
  canPay?: ((offer: RouteOffer, cost: bigint) => boolean) | undefined;
}): Quote {
  const { request } = args;
  const forModel = args.offers.filter((o) => o.model === request.model);
  const maxIn = request.maxPricePerMTok?.input;
  const maxOut = request.maxPricePerMTok?.output;
  const fitsQuantization = forModel.filter(
    (o) => request.quantization === undefined || o.quantization === request.quantization,
  );
  const fitsTokens = fitsQuantization.filter((o) => o.maxOutputTokens >= request.maxTokens);
  const fitsPrice = fitsTokens.filter(
    (o) =>
      (maxIn === undefined || o.inputPricePerMTok <= maxIn) && (maxOut === undefined || o.outputPricePerMTok <= maxOut),
  );
  const healthy = fitsPrice.filter((o) => o.healthy && !request.exclude?.has(o.agentId));
  const payable = healthy.filter((o) => args.canPay?.(o, expectedCost(o, request)) ?? true);
  const providers = forModel
    .map((o) => ({
      agentId: o.agentId.toString(),
      url: o.url,
      inputPricePerMTok: o.inputPricePerMTok.toString(),
      outputPricePerMTok: o.outputPricePerMTok.toString(),
      expectedCost: expectedCost(o, request).toString(),
      healthy: o.healthy,
      latencyMs: Math.round(o.latencyMs),
      ...(o.quantization === undefined ? {} : { quantization: o.quantization }),
      eligible: payable.includes(o),
    }))
    .sort((a, b) => (BigInt(a.expectedCost) < BigInt(b.expectedCost) ? -1 : 1));
  const fail = (reason: NotServedReason, message: string): Quote => ({
    model: request.model,
    servable: false,
    reason,
    message,
    providers,
  });
  if (forModel.length === 0) return fail("no_offer_for_model", `No provider offers ${request.model}`);
  if (fitsQuantization.length === 0)
    return fail(
      "no_offer_for_quantization",
      `No provider of ${request.model} announces quantization ${request.quantization}`,
    );
  if (fitsTokens.length === 0)
    return fail("max_tokens_over_offer", `No offer for ${request.model} allows max_tokens ${request.maxTokens}`);
  if (fitsPrice.length === 0)
    return fail("all_above_max_price", `Every offer for ${request.model} is above the price cap`);
  if (healthy.length === 0)
    return fail("all_unhealthy", `No provider of ${request.model} under the price cap is healthy right now`);
  if (payable.length === 0)
    return fail("insufficient_escrow", "The gateway has no funds to pay a provider for this request");
  const cheapest = payable.reduce((best, o) => (expectedCost(o, request) < expectedCost(best, request) ? o : best));
  return { model: request.model, servable: true, expectedPrice: expectedCost(cheapest, request).toString(), providers };
}
