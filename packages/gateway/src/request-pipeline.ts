import { RequestError } from "@verity/core";
import { errorResponse } from "@verity/provider";
import type { Context } from "hono";
import type { ZodType } from "zod";
import type { OfferDirectory } from "./offer-directory.ts";
import { type Payment, PaymentRequiredError, releasePayment } from "./payer-auth.ts";
import type { PrepaidLedger } from "./prepaid-ledger.ts";
import { quote } from "./quote.ts";
import { expectedCost, type RouteOffer, type RouteRequest, type RoutingPolicy } from "./routing-policy.ts";
import { userPrice } from "./user-price.ts";

/** Parses a JSON body with `schema`; malformed JSON → `invalid_json`, wrong shape → `invalid_request`. */
export async function parseBody<T>(c: Context, schema: ZodType<T>): Promise<T> {
  let json: unknown;
  try {
    json = await c.req.json();
  } catch {
    throw new RequestError("The request body is not valid JSON", { code: "invalid_json" });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RequestError(`Invalid request: ${issue?.path.join(".")} ${issue?.message}`, { code: "invalid_request" });
  }
  return parsed.data;
}

/**
 * The providers to try for a request, best first, and the most the caller may be charged (the
 * dearest fallback's expected cost plus the fee). No route → the quote's reason as the error.
 */
export function planRoute(args: {
  directory: OfferDirectory;
  policy: RoutingPolicy;
  request: RouteRequest;
  feeBps: number;
}): { route: RouteOffer[]; maxPrice: bigint } {
  const offers = args.directory.offers();
  const route = args.policy(offers, args.request, Math.random);
  if (route.length === 0) {
    const q = quote({ offers, request: args.request });
    throw new RequestError(q.message ?? "No provider would serve this request", {
      code: q.reason ?? "all_unhealthy",
      hint: `GET /v1/quote?model=${encodeURIComponent(args.request.model)}&max_tokens=${args.request.maxTokens} shows who would serve it`,
    });
  }
  const maxCost = route.reduce((m, o) => (expectedCost(o, args.request) > m ? expectedCost(o, args.request) : m), 0n);
  return { route, maxPrice: userPrice(maxCost, args.feeBps) };
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
  return errorResponse(c, error);
}
