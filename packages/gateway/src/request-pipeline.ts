import { BaseError, RequestError, refuseUnresolvedContext } from "@verity/core";
import { errorResponse } from "@verity/provider";
import type { Context } from "hono";
import type { ZodType } from "zod";
import type { OfferDirectory } from "./offer-directory.ts";
import { type Payment, PaymentRequiredError, releasePayment } from "./payer-auth.ts";
import { noMatchMessage, type PreferredRoute, preferredRoute } from "./preferred-route.ts";
import type { PrepaidLedger } from "./prepaid-ledger.ts";
import type { ProviderPreferences } from "./provider-preferences.ts";
import { quote } from "./quote.ts";
import {
  expectedCost,
  type RouteOffer,
  type RouteRequest,
  type RoutingPolicy,
  TOOL_CALL_FLOOR,
  toolCallExcluded,
} from "./routing-policy.ts";
import { userPrice } from "./user-price.ts";

/** Parses a JSON body with `schema`; malformed JSON → `invalid_json`, wrong shape → `invalid_request`. */
export async function parseBody<T>(c: Context, schema: ZodType<T>): Promise<T> {
  let json: unknown;
  try {
    json = await c.req.json();
  } catch {
    throw new RequestError("The request body is not valid JSON", { code: "invalid_json" });
  }
  refuseUnresolvedContext(json);
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RequestError(`Invalid request: ${issue?.path.join(".")} ${issue?.message}`, { code: "invalid_request" });
  }
  return parsed.data;
}

/**
 * The providers to try for a request, best first, and the most the caller may be charged (the
 * dearest fallback's expected cost plus the fee). With `prefs` (the body's `provider` object) the
 * route honours them (`routeWithPreferences`); `decimals` are the payment token's, to read
 * `max_price` in whole tokens per 1M. No route → the quote's reason when the request alone is not
 * servable, else `no_provider_matches` naming which preference excluded which provider.
 */
export function planRoute(args: {
  directory: OfferDirectory;
  policy: RoutingPolicy;
  request: RouteRequest;
  feeBps: number;
  prefs?: ProviderPreferences | undefined;
  decimals: number;
  random?: () => number;
}): { route: RouteOffer[]; maxPrice: bigint } {
  const offers = args.directory.offers();
  const prefs = args.prefs;
  const { route, capped, excluded } = preferredRoute({
    offers,
    request: args.request,
    prefs,
    decimals: args.decimals,
    policy: args.policy,
    ...(args.random ? { random: args.random } : {}),
  });
  if (route.length === 0) {
    const q = quote({ offers, request: args.request });
    const hint = `GET /v1/quote?model=${encodeURIComponent(args.request.model)}&max_tokens=${args.request.maxTokens} shows who would serve it`;
    const byToolCalls = toolCallExcluded(offers, args.request);
    if (q.servable && (prefs || byToolCalls.length > 0)) {
      throw noProviderMatches(args.request.model, {
        ...(excluded ?? {}),
        ...(byToolCalls.length > 0 ? { tool_call_score: byToolCalls } : {}),
      });
    }
    throw new RequestError(q.message ?? "No provider would serve this request", {
      code: q.reason ?? "all_unhealthy",
      hint,
    });
  }
  const maxCost = route.reduce((m, o) => (expectedCost(o, capped) > m ? expectedCost(o, capped) : m), 0n);
  return { route, maxPrice: userPrice(maxCost, args.feeBps) };
}

/** No offer meets the `provider` preferences: `no_provider_matches` naming which excluded whom. */
export function noProviderMatches(
  model: string,
  excluded: PreferredRoute["excluded"] & { tool_call_score?: string[] },
): RequestError {
  const byToolCalls = (excluded?.tool_call_score ?? []).length > 0;
  const onlyToolCalls = byToolCalls && Object.keys(excluded ?? {}).length === 1;
  const message = onlyToolCalls
    ? `No provider of ${model} is fit for tool calls (tool_call_score excluded ${excluded?.tool_call_score?.join(", ")})`
    : noMatchMessage(model, excluded);
  return new RequestError(message, {
    code: "no_provider_matches",
    hint: byToolCalls
      ? `Validators score some providers' tool calls below ${TOOL_CALL_FLOOR}; send the request without tools, loosen the provider object, or retry later`
      : "Loosen the provider object; the model, price cap and quantization are never changed to serve it",
    details: { excluded: excluded ?? {} },
  });
}

/** What the caller learns about the offer that served it: provider, quantization, price per 1M. */
export function servedBy(route: readonly RouteOffer[], agentId: bigint) {
  const offer = route.find((o) => o.agentId === agentId);
  return {
    agentId: agentId.toString(),
    ...(offer?.quantization === undefined ? {} : { quantization: offer.quantization }),
    ...(offer
      ? {
          offerId: offer.offerId.toString(),
          price: {
            inputPerMTok: offer.inputPricePerMTok.toString(),
            outputPerMTok: offer.outputPricePerMTok.toString(),
          },
        }
      : {}),
  };
}

/**
 * The same facts as `servedBy`, in response headers (a non-streamed answer): `Verity-Provider`
 * (agent id), `Verity-Offer`, `Verity-Quantization` (when announced), `Verity-Price`
 * (`<input>,<output>` base units per 1M, the format of `Verity-Max-Price`) and `Verity-Charged`.
 */
export function setServedHeaders(c: Context, served: ReturnType<typeof servedBy>, charged: bigint): void {
  c.header("Verity-Provider", served.agentId);
  if (served.offerId) c.header("Verity-Offer", served.offerId);
  if (served.quantization) c.header("Verity-Quantization", served.quantization);
  if (served.price) c.header("Verity-Price", `${served.price.inputPerMTok},${served.price.outputPerMTok}`);
  c.header("Verity-Charged", charged.toString());
}

/** The answer to a failed request: money released, x402 402 with its header, or the error's status. */
export async function failedResponse(
  c: Context,
  error: unknown,
  payment: Payment | undefined,
  ledger: PrepaidLedger,
): Promise<Response> {
  if (payment) await releasePayment({ payment, ledger });
  if (error instanceof PaymentRequiredError) {
    c.header("PAYMENT-REQUIRED", error.header);
    return c.json({ ...error.toJSON(), x402: error.body }, 402);
  }
  const retryAfter = error instanceof BaseError ? error.details.retryAfterSeconds : undefined;
  if (typeof retryAfter === "number") c.header("Retry-After", String(retryAfter));
  return errorResponse(c, error);
}
