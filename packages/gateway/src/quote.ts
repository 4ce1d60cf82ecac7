import { expectedCost, type RouteOffer, type RouteRequest } from "./routing-policy.ts";

/** Why no provider would serve a request (stable codes, also reason codes of the gateway). */
export type NotServedReason =
  | "no_offer_for_model"
  | "no_offer_for_quantization"
  | "all_above_max_price"
  | "all_unhealthy"
  | "max_tokens_over_offer"
  | "insufficient_escrow";

export type Quote = {
  model: string;
  servable: boolean;
  reason?: NotServedReason;
  message?: string;
  /** Expected price of the request on the cheapest eligible provider, in base units. */
  expectedPrice?: string;
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
 * health, and finally the gateway's own funds to pay a provider.
 */
export function quote(args: {
  offers: readonly RouteOffer[];
  request: RouteRequest;
  canPay?: (offer: RouteOffer, cost: bigint) => boolean;
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
