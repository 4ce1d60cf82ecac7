import { RequestError } from "@verity/core";
import { errorResponse } from "@verity/provider";
import type { Context, Hono, MiddlewareHandler } from "hono";
import { z } from "zod";
import type { ChatRouteDeps } from "./chat-route.ts";
import { parseProviderPreferences } from "./provider-preferences.ts";
import { quote } from "./quote.ts";

const uint = z.union([z.string().regex(/^\d{1,40}$/), z.number().int().nonnegative()]).transform((v) => BigInt(v));
const count = z.union([
  z
    .string()
    .regex(/^\d{1,9}$/)
    .transform(Number),
  z.number().int().nonnegative(),
]);

/** What a quote asks, from the query string (`GET`) or a JSON body (`POST`); `provider` is checked apart. */
const quoteRequestSchema = z.object({
  model: z.string().min(1).max(256),
  max_tokens: count.refine((n) => n >= 1, "must be at least 1").optional(),
  prompt_tokens: count.optional(),
  max_price_in: uint.optional(),
  max_price_out: uint.optional(),
  provider: z.unknown().optional(),
});

/**
 * `GET /v1/quote?model=…&max_tokens=…[&prompt_tokens=…&max_price_in=…&max_price_out=…&provider=<JSON>]`
 * and `POST /v1/quote` with the same fields in a JSON body (`provider` as an object): whether the
 * request would be served, by whom, in which order and at what price — under exactly the routing,
 * `provider` preferences included, that the chat route applies. A `provider` that is not JSON or
 * not a valid provider object is `provider_preferences_invalid` (400); `limit` caps the body size.
 */
export function mountQuoteRoute(app: Hono, deps: ChatRouteDeps, limit: MiddlewareHandler): void {
  const answer = (c: Context, input: unknown) => {
    const parsed = quoteRequestSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new RequestError(
        `Invalid quote request: ${issue?.path.join(".") || "query"} ${issue?.message}; send model, max_tokens[, prompt_tokens, max_price_in, max_price_out, provider]`,
        { code: "invalid_request" },
      );
    }
    const q = parsed.data;
    const maxIn = q.max_price_in;
    const maxOut = q.max_price_out;
    const result = quote({
      offers: deps.directory.offers(),
      request: {
        model: q.model,
        maxTokens: q.max_tokens ?? deps.defaultMaxTokens,
        promptTokens: q.prompt_tokens ?? 64,
        maxPricePerMTok: {
          ...(maxIn === undefined ? {} : { input: maxIn }),
          ...(maxOut === undefined ? {} : { output: maxOut }),
        },
      },
      prefs: parseProviderPreferences(q.provider),
      decimals: deps.token.decimals,
      policy: deps.policy,
    });
    return c.json({ ...result, feeBps: deps.feeBps });
  };
  app.get("/v1/quote", (c) => {
    try {
      const query = c.req.query();
      const text = query.provider;
      let provider: unknown;
      if (text !== undefined) {
        try {
          provider = JSON.parse(text);
        } catch {
          throw new RequestError("The provider query parameter is not valid JSON", {
            code: "provider_preferences_invalid",
            details: { field: "provider" },
            hint: 'URL-encode a JSON object, e.g. provider={"sort":"price"}',
          });
        }
      }
      return answer(c, { ...query, provider });
    } catch (error) {
      return errorResponse(c, error);
    }
  });
  app.post("/v1/quote", limit, async (c) => {
    try {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        throw new RequestError("The request body is not valid JSON", { code: "invalid_json" });
      }
      return answer(c, body);
    } catch (error) {
      return errorResponse(c, error);
    }
  });
}
