import { RequestError } from "@verity/core";
import { completionRequestSchema } from "@verity/provider";
import { type Completion, estimateTextPromptTokens } from "@verity/sdk";
import type { Context } from "hono";
import type { ChatRouteDeps } from "./chat-route.ts";
import { maxPriceHeader, quantizationHeader } from "./chat-route.ts";
import { forwardOnce } from "./forwarder.ts";
import { authorizePayment, type Payment, settlePayment } from "./payer-auth.ts";
import { parseProviderPreferences } from "./provider-preferences.ts";
import { failedResponse, parseBody, planRoute, servedBy, setServedHeaders } from "./request-pipeline.ts";
import type { RouteRequest } from "./routing-policy.ts";
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
      const body = await parseBody(c, completionRequestSchema);
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
        ...(quantizationHeader(c) ? { quantization: quantizationHeader(c) as string } : {}),
        ...(maxPriceHeader(c)
          ? { maxPricePerMTok: maxPriceHeader(c) as NonNullable<RouteRequest["maxPricePerMTok"]> }
          : {}),
      };
      const { route, maxPrice } = planRoute({
        directory: deps.directory,
        policy: deps.policy,
        request,
        feeBps: deps.feeBps,
        prefs: parseProviderPreferences(body.provider),
        decimals: deps.token.decimals,
      });
      payment = await authorizePayment({
        c,
        ledger: deps.ledger,
        keys: deps.keys,
        model: body.model,
        x402: deps.x402,
        maxPrice,
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
        tokens: forwarded.result.usage?.total_tokens,
      });
      if (outcome.settlement) c.header(outcome.settlement.headerName, outcome.settlement.header);
      deps.metrics.observe({
        route: "completions",
        status: 200,
        seconds: (performance.now() - started) / 1000,
        failovers: forwarded.attempts.length - 1,
        charged: outcome.charged,
      });
      const served = servedBy(route, forwarded.agentId);
      setServedHeaders(c, served, outcome.charged);
      return c.json({
        ...forwarded.result,
        verity: {
          ...forwarded.result.verity,
          gateway: {
            charged: outcome.charged.toString(),
            ...served,
            attempts: forwarded.attempts.length,
          },
        },
      });
    } catch (error) {
      return await failedResponse(c, error, payment, deps.ledger);
    }
  };
}
