import { BaseError, type ChatTool, RequestError, type ToolChoice } from "@verity/core";
import { chatCompletionRequestSchema } from "@verity/provider";
import { type ChatCompletion, type ChatMessage, estimateChatPromptTokens, type VerityClient } from "@verity/sdk";
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { ApiKeys } from "./api-keys.ts";
import { forwardChatStream, forwardOnce } from "./forwarder.ts";
import type { GatewayMetrics } from "./gateway-metrics.ts";
import type { HealthProber } from "./health-prober.ts";
import type { OfferDirectory } from "./offer-directory.ts";
import {
  authorizePayment,
  beginPayment,
  type Payment,
  type PaymentOutcome,
  releasePayment,
  settlePayment,
} from "./payer-auth.ts";
import type { PrepaidLedger } from "./prepaid-ledger.ts";
import { parseProviderPreferences } from "./provider-preferences.ts";
import { failedResponse, parseBody, planRoute, servedBy, setServedHeaders } from "./request-pipeline.ts";
import { expectedCost, type RouteOffer, type RouteRequest, type RoutingPolicy } from "./routing-policy.ts";
import { userPrice } from "./user-price.ts";
import type { X402Payments } from "./x402/index.ts";

export type ChatRouteDeps = {
  client: VerityClient;
  directory: OfferDirectory;
  prober: HealthProber;
  policy: RoutingPolicy;
  ledger: PrepaidLedger;
  keys: ApiKeys;
  x402: X402Payments | undefined;
  feeBps: number;
  /** The payment token (its decimals read `provider.max_price`, given in whole tokens per 1M). */
  token: { address: `0x${string}`; symbol: string; decimals: number };
  defaultMaxTokens: number;
  metrics: GatewayMetrics;
  publicUrl: () => string;
};

/** `Verity-Max-Price: <input>,<output>` — most the caller pays per 1M tokens, in base units. */
export function maxPriceHeader(c: Context): RouteRequest["maxPricePerMTok"] {
  const value = c.req.header("verity-max-price");
  if (!value) return undefined;
  const [input, output] = value.split(",").map((v) => v.trim());
  if (!/^\d*$/.test(input ?? "") || !/^\d*$/.test(output ?? "")) {
    throw new RequestError("Verity-Max-Price must be '<input>,<output>' base units per 1M tokens", {
      code: "invalid_request",
    });
  }
  return { ...(input ? { input: BigInt(input) } : {}), ...(output ? { output: BigInt(output) } : {}) };
}

/** `Verity-Quantization: bf16` — serve only from offers whose manifest announces this quantization. */
export function quantizationHeader(c: Context): string | undefined {
  const value = c.req.header("verity-quantization")?.trim().toLowerCase();
  if (!value) return undefined;
  if (!/^[a-z0-9][a-z0-9_.-]{0,31}$/.test(value)) {
    throw new RequestError("Verity-Quantization must be a label such as bf16, fp8 or int4", {
      code: "invalid_request",
    });
  }
  return value;
}

/** `POST /v1/chat/completions` on the gateway: route, take payment, forward with failover, charge once. */
export function chatRoute(deps: ChatRouteDeps) {
  return async (c: Context): Promise<Response> => {
    const started = performance.now();
    let payment: Payment | undefined;
    try {
      const body = await parseBody(c, chatCompletionRequestSchema);
      const messages = body.messages.map((m) => ({ role: m.role, content: m.content })) as ChatMessage[];
      const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? deps.defaultMaxTokens;
      const tools = body.tools && body.tools.length > 0 ? (body.tools as ChatTool[]) : undefined;
      const toolChoice = body.tool_choice ?? undefined;
      const request: RouteRequest = {
        model: body.model,
        promptTokens: estimateChatPromptTokens(messages, { tools, toolChoice: toolChoice as ToolChoice | undefined }),
        maxTokens,
        ...(tools && toolChoice !== "none" ? { tools: true } : {}),
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
      const paymentArgs = {
        c,
        ledger: deps.ledger,
        keys: deps.keys,
        model: body.model,
        x402: deps.x402,
        maxPrice,
        resourceUrl: `${deps.publicUrl()}/v1/chat/completions`,
        description: `${body.model}: up to ${maxTokens} output tokens`,
      };
      const params = {
        model: body.model,
        messages,
        max_tokens: maxTokens,
        ...(body.temperature == null ? {} : { temperature: body.temperature }),
        ...(body.top_p == null ? {} : { top_p: body.top_p }),
        ...(body.seed == null ? {} : { seed: body.seed }),
        ...(body.stop == null ? {} : { stop: body.stop }),
        // Forwarded as sent: the provider writes them into the prompt, the audit sample carries them.
        ...(tools ? { tools } : {}),
        ...(toolChoice === undefined ? {} : { tool_choice: toolChoice as ToolChoice }),
      };
      if (!body.stream) {
        // The hold commits while the SDK routes, reserves and signs; the voucher leaves only after it.
        const begun = await beginPayment(paymentArgs);
        let refused: { error: unknown } | undefined;
        const ready = begun.payment.then(
          () => {},
          (error) => {
            refused = { error };
            throw error;
          },
        );
        ready.catch(() => {});
        let forwarded: Awaited<ReturnType<typeof forwardOnce<ChatCompletion>>>;
        try {
          forwarded = await forwardOnce<ChatCompletion>({
            route,
            prober: deps.prober,
            stopIf: () => refused !== undefined,
            send: (offer) =>
              deps.client.chat.completions.create({ ...params, stream: false }, { agentId: offer.agentId, ready }),
          });
        } catch (error) {
          // A refused hold is the answer (no provider was sent anything); else release the hold.
          payment = await begun.payment.catch(() => undefined);
          throw refused ? refused.error : error;
        }
        payment = await begun.payment;
        const paid = payment;
        const charge = userPrice(forwarded.charge, deps.feeBps);
        const outcome = await settlePayment({
          payment: paid,
          ledger: deps.ledger,
          x402: deps.x402,
          charge,
          ref: forwarded.result.verity.requestId,
          tokens: forwarded.result.usage?.total_tokens,
        });
        if (outcome.settlement) c.header(outcome.settlement.headerName, outcome.settlement.header);
        deps.metrics.observe({
          route: "chat",
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
      }
      payment = await authorizePayment(paymentArgs);
      const paid = payment;
      const id = `chatcmpl-gw${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
      const created = Math.floor(Date.now() / 1000);
      const chunk = (delta: unknown, finish: string | null, extra: Record<string, unknown> = {}) =>
        JSON.stringify({
          id,
          object: "chat.completion.chunk",
          created,
          model: body.model,
          choices: finish === "none" ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }],
          ...extra,
        });
      return streamSSE(c, async (stream) => {
        const controller = new AbortController();
        stream.onAbort(() => controller.abort());
        // x402: settlement starts with the first token and runs beside generation; no text leaves
        // before it is confirmed, so a payment voided mid-request (cancelAuthorization, drained
        // balance) gets nothing, and the stream ends with the settlement's error event instead.
        let x402Settling: Promise<PaymentOutcome> | undefined;
        const settleX402 = () => {
          x402Settling ??= settlePayment({ payment: paid, ledger: deps.ledger, x402: deps.x402, charge: 0n, ref: id });
          return x402Settling;
        };
        let delivered = 0;
        try {
          await stream.writeSSE({ data: chunk({ role: "assistant", content: "" }, null) });
          const forwarded = await forwardChatStream({
            route,
            prober: deps.prober,
            client: deps.client,
            params,
            signal: controller.signal,
            write: async (text) => {
              if (paid.kind === "x402") await settleX402();
              await stream.writeSSE({ data: chunk({ content: text }, null) });
              delivered++;
            },
          });
          const charge = userPrice(forwarded.charge, deps.feeBps);
          const outcome =
            paid.kind === "x402"
              ? await settleX402()
              : await settlePayment({
                  payment: paid,
                  ledger: deps.ledger,
                  x402: deps.x402,
                  charge,
                  ref: id,
                  tokens: forwarded.result.usage.prompt_tokens + forwarded.result.usage.completion_tokens,
                });
          await stream.writeSSE({ data: chunk({}, forwarded.result.finishReason) });
          const usage = forwarded.result.usage;
          await stream.writeSSE({
            data: chunk(null, "none", {
              usage: {
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
                total_tokens: usage.prompt_tokens + usage.completion_tokens,
              },
              verity: {
                gateway: {
                  charged: outcome.charged.toString(),
                  ...servedBy(route, forwarded.agentId),
                  attempts: forwarded.attempts.length,
                },
                ...(outcome.settlement
                  ? { x402: { txHash: outcome.settlement.txHash, paymentResponse: outcome.settlement.header } }
                  : {}),
              },
            }),
          });
          await stream.writeSSE({ data: "[DONE]" });
          deps.metrics.observe({
            route: "chat",
            status: 200,
            seconds: (performance.now() - started) / 1000,
            failovers: forwarded.attempts.length - 1,
            charged: outcome.charged,
          });
        } catch (error) {
          if (controller.signal.aborted && paid.kind === "prepaid" && delivered > 0) {
            // The caller hung up after text reached it: it pays for what it got (the providers
            // charge the gateway for delivered tokens too), never nothing and never above the hold.
            const charge = abortedCharge({ route, request, delivered, feeBps: deps.feeBps });
            await settlePayment({ payment: paid, ledger: deps.ledger, x402: deps.x402, charge, ref: id });
            return;
          }
          await releasePayment({ payment: paid, ledger: deps.ledger });
          if (controller.signal.aborted) return;
          const known =
            error instanceof BaseError
              ? error.toJSON()
              : { error: { code: "internal_error", message: "Internal error" } };
          await stream.writeSSE({ data: JSON.stringify(known) });
        }
      });
    } catch (error) {
      const response = await failedResponse(c, error, payment, deps.ledger);
      deps.metrics.observe({
        route: "chat",
        status: response.status,
        seconds: (performance.now() - started) / 1000,
        failovers: 0,
        charged: 0n,
      });
      return response;
    }
  };
}

/**
 * What a caller who aborted a prepaid stream pays: the prompt plus the `delivered` pieces of text it
 * received, priced at the dearest offer of its route (the one that served is among them), with the
 * gateway fee. The ledger caps it at the request's hold.
 */
export function abortedCharge(args: {
  route: RouteOffer[];
  request: RouteRequest;
  delivered: number;
  feeBps: number;
}): bigint {
  const partial = { ...args.request, maxTokens: args.delivered };
  const cost = args.route.reduce((m, o) => (expectedCost(o, partial) > m ? expectedCost(o, partial) : m), 0n);
  return userPrice(cost, args.feeBps);
}
