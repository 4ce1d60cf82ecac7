import { RequestError } from "@verity/core";
import { completionRequestSchema, errorResponse } from "@verity/provider";
import { type Completion, estimateTextPromptTokens } from "@verity/sdk";
import type { Context } from "hono";
import type { ChatRouteDeps } from "./chat-route.ts";
import { forwardOnce } from "./forwarder.ts";
import { authorizePayment, type Payment, PaymentRequiredError, releasePayment, settlePayment } from "./payer-auth.ts";
import { quote } from "./quote.ts";
import { expectedCost, type RouteRequest } from "./routing-policy.ts";
import { userPrice } from "./user-price.ts";

/**
 * `POST /v1/completions` on the gateway (non-streaming; streamed text completions are served by the
 * chat route's machinery only for chat): route, take payment, forward with failover, charge once.
 */
export function completionsRoute(deps: ChatRouteDeps) {
  return async (c: Context): Promise<Response> => {
    const started = performance.now();
    let payment: Payment | undefined;
    try {
      let json: unknown;
      try {
        json = await c.req.json();
      } catch {
        throw new RequestError("The request body is not valid JSON", { code: "invalid_json" });
      }
      const parsed = completionRequestSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new RequestError(`Invalid request: ${issue?.path.join(".")} ${issue?.message}`, {
          code: "invalid_request",
        });
      }
      const body = parsed.data;
      if (body.stream) {
        throw new RequestError(
          "The gateway streams chat completions; send stream: false here or use /v1/chat/completions",
          { code: "invalid_request" },
        );
      }
      const maxTokens = body.max_tokens ?? 16;
      const request: RouteRequest = {
        model: body.model,
        promptTokens: estimateTextPromptTokens(body.prompt),
        maxTokens,
      };
      const offers = deps.directory.offers();
      const route = deps.policy(offers, request, Math.random);
      if (route.length === 0) {
        const q = quote({ offers, request });
        throw new RequestError(q.message ?? "No provider would serve this request", {
          code: q.reason ?? "all_unhealthy",
        });
      }
      const maxCost = route.reduce((m, o) => (expectedCost(o, request) > m ? expectedCost(o, request) : m), 0n);
      payment = await authorizePayment({
        c,
        ledger: deps.ledger,
        x402: deps.x402,
        maxPrice: userPrice(maxCost, deps.feeBps),
        resourceUrl: `${deps.publicUrl()}/v1/completions`,
        description: `${body.model}: up to ${maxTokens} output tokens`,
      });
      const params = {
        model: body.model,
        prompt: body.prompt,
        max_tokens: maxTokens,
        stream: false as const,
        ...(body.temperature == null ? {} : { temperature: body.temperature }),
        ...(body.top_p == null ? {} : { top_p: body.top_p }),
        ...(body.seed == null ? {} : { seed: body.seed }),
        ...(body.stop == null ? {} : { stop: body.stop }),
      };
      const forwarded = await forwardOnce<Completion>({
        route,
        prober: deps.prober,
        send: (offer) => deps.client.completions.create(params, { agentId: offer.agentId }),
      });
      const outcome = await settlePayment({
        payment,
        ledger: deps.ledger,
        x402: deps.x402,
        charge: userPrice(forwarded.charge, deps.feeBps),
        ref: forwarded.result.verity.requestId,
      });
      if (outcome.settlement) c.header(outcome.settlement.headerName, outcome.settlement.header);
      deps.metrics.observe({
        route: "completions",
        status: 200,
        seconds: (performance.now() - started) / 1000,
        failovers: forwarded.attempts.length - 1,
        charged: outcome.charged,
      });
      return c.json({
        ...forwarded.result,
        verity: {
          ...forwarded.result.verity,
          gateway: { charged: outcome.charged.toString(), agentId: forwarded.agentId.toString() },
        },
      });
    } catch (error) {
      if (payment) releasePayment({ payment, ledger: deps.ledger });
      if (error instanceof PaymentRequiredError) {
        c.header("PAYMENT-REQUIRED", error.header);
        return c.json({ ...error.toJSON(), x402: error.body }, 402);
      }
      return errorResponse(c, error);
    }
  };
}
