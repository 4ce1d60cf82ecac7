import { PaymentRequiredError } from "@verity/chain/x402";
import {
  ceilingFor,
  encodeVoucherHeader,
  HEADERS,
  PaymentError,
  RequestError,
  type RetrievalRecord,
  reasonStatus,
  refuseUnresolvedContext,
  voucherDomain,
  voucherTypes,
  withToolPrompt,
} from "@verity/core";
import type { Prompt } from "@verity/engine";
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { ZodType } from "zod";
import { errorResponse } from "./http-errors.ts";
import type { ProviderMetrics } from "./metrics.ts";
import { type ChatCompletionRequest, chatCompletionRequestSchema, completionRequestSchema } from "./openai-schemas.ts";
import { newRequestId, RequestAborted, runPaidInference, type SamplingRequest } from "./paid-inference.ts";
import type { PaymentGate } from "./payment-gate.ts";
import type { ReceiptSigner } from "./receipt-signer.ts";
import { retrievalMessage, retrievalQuery, retrieve } from "./retrieval.ts";
import { requestSeedFields } from "./seed-fields.ts";
import type { ServedModel } from "./served-model.ts";
import type { ProviderStore } from "./store.ts";
import { serveUnpaid } from "./unpaid-route.ts";
import type { X402Door } from "./x402-door.ts";
import { serveX402 } from "./x402-route.ts";

export type CompletionsDeps = {
  models: Map<string, ServedModel>;
  gate: PaymentGate;
  store: ProviderStore;
  signer: ReceiptSigner;
  metrics: ProviderMetrics;
  chainId: number;
  paymentChannels: `0x${string}`;
  token: `0x${string}`;
  agentId: bigint;
  /** Bearer key that is served without payment (the operator's own traffic, health checks, upstream use). */
  operatorKey?: string;
  /** The x402 batch-settlement door, for payers without a Verity channel. */
  x402?: X402Door;
  /** Clock for receipt timestamps in ms (default `Date.now`); tests use it to sign receipts from another time. */
  receiptClock?: () => number;
};

type Kind = "chat" | "text";

async function parseBody<T>(c: Context, schema: ZodType<T>): Promise<T> {
  let json: unknown;
  try {
    json = await c.req.json();
  } catch {
    throw new RequestError("The request body is not valid JSON", { code: "invalid_json", hint: "Send a JSON body" });
  }
  refuseUnresolvedContext(json);
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RequestError(`Invalid request: ${issue?.path.join(".") || "body"} ${issue?.message ?? ""}`.trim(), {
      code: "invalid_request",
      hint: "See the OpenAI API reference for this endpoint",
    });
  }
  return parsed.data;
}

/**
 * Retrieval for a "model + dataset" offering (chat only): the top-k chunks for the last user message
 * are inserted as a system message before the request's messages; returns the record to sign.
 */
function retrieveFor(model: ServedModel, kind: Kind, prompt: Prompt): RetrievalRecord | undefined {
  const offering = model.retrieval;
  if (!offering) return undefined;
  if (kind !== "chat" || !("messages" in prompt)) {
    throw new RequestError(`${model.name} retrieves from a dataset and serves chat completions only`, {
      code: "invalid_request",
      hint: "POST /v1/chat/completions",
    });
  }
  const { chunks, record } = retrieve({
    corpus: offering.corpus,
    query: retrievalQuery(prompt.messages),
    k: offering.k,
  });
  prompt.messages.unshift({ role: "system", content: retrievalMessage({ datasetId: offering.datasetId, chunks }) });
  return record;
}

/** How to pay this provider for a request: the 402 body's `payment` section. */
function paymentInfo(deps: CompletionsDeps, model: ServedModel, ceiling: bigint) {
  return {
    scheme: "verity-channel",
    header: "Verity-Voucher",
    chainId: deps.chainId,
    paymentChannels: deps.paymentChannels,
    token: deps.token,
    agentId: deps.agentId.toString(),
    modelId: model.modelId.toString(),
    price: { inputPerMTok: model.price.inputPerMTok.toString(), outputPerMTok: model.price.outputPerMTok.toString() },
    ceiling: ceiling.toString(),
    ...(model.retrieval
      ? { retrieval: { datasetId: model.retrieval.datasetId.toString(), fee: model.retrieval.fee.toString() } }
      : {}),
    voucher: {
      domain: voucherDomain({ chainId: deps.chainId, verifyingContract: deps.paymentChannels }),
      types: voucherTypes,
    },
    example: encodeVoucherHeader({
      channelId: `0x${"00".repeat(32)}`,
      cumulativeAmount: ceiling,
      signature: `0x${"00".repeat(65)}`,
    }),
  };
}

/** Handler for `POST /v1/chat/completions` (kind "chat") and `POST /v1/completions` (kind "text"). */
export function completionsHandler(deps: CompletionsDeps, kind: Kind) {
  const route = kind === "chat" ? "/v1/chat/completions" : "/v1/completions";
  return async (c: Context): Promise<Response> => {
    const started = performance.now();
    try {
      const body =
        kind === "chat" ? await parseBody(c, chatCompletionRequestSchema) : await parseBody(c, completionRequestSchema);
      const model = deps.models.get(body.model);
      if (!model) {
        throw new RequestError(`This provider does not serve model ${JSON.stringify(body.model)}`, {
          code: "unknown_model",
          hint: `Served models: ${[...deps.models.keys()].join(", ")}`,
        });
      }
      if (model.health && !model.health.state.up) {
        throw new RequestError(`The upstream engine of ${model.name} is down; nothing was charged`, {
          code: "upstream_down",
          hint: "Retry later or use another provider; GET /health says when it is back",
          details: { reason: model.health.state.reason, since: model.health.state.since },
        });
      }
      const requested: number | null | undefined =
        (body as { max_completion_tokens?: number | null }).max_completion_tokens ?? body.max_tokens;
      const maxTokens = requested ?? (kind === "text" ? Math.min(16, model.maxOutputTokens) : model.maxOutputTokens);
      if (maxTokens > model.maxOutputTokens) {
        throw new RequestError(`max_tokens ${maxTokens} exceeds this offer's ${model.maxOutputTokens}`, {
          code: "max_tokens_over_offer",
          hint: `Ask for at most ${model.maxOutputTokens} tokens`,
        });
      }
      // Checked before any payment: a malformed seed key costs nothing.
      const seedFields = requestSeedFields({ body, seedSync: model.seedSync, requireSeed: false });
      const rawPrompt = kind === "text" ? (body as { prompt: string | number[] }).prompt : undefined;
      const prompt: Prompt =
        kind === "chat"
          ? {
              messages: withToolPrompt(
                (body as ChatCompletionRequest).messages.map((m) => ({ role: m.role, content: m.content })),
                (body as ChatCompletionRequest).tools,
                (body as ChatCompletionRequest).tool_choice,
              ),
              ...((body as { continue_final_message?: boolean | null }).continue_final_message
                ? { continueFinal: true }
                : {}),
            }
          : { text: typeof rawPrompt === "string" ? rawPrompt : model.engine.detokenize(rawPrompt ?? []) };
      // A "model + dataset" offering retrieves before rendering: the chunks join the prompt as a
      // system message and the record is signed into the receipt's params.
      const retrieved = retrieveFor(model, kind, prompt);
      // A chat is rendered once: the count prices the ceiling and the tokens go to the engine.
      const rendered =
        "messages" in prompt
          ? model.engine.renderChat(prompt.messages, { continueFinal: prompt.continueFinal === true })
          : undefined;
      const promptTokens =
        "messages" in prompt
          ? (rendered?.length ?? 0)
          : Array.isArray(rawPrompt)
            ? rawPrompt.length
            : model.engine.tokenize(prompt.text).length + 1;
      if (promptTokens + maxTokens > model.engine.contextSize) {
        throw new RequestError(
          `The prompt (${promptTokens} tokens) plus max_tokens (${maxTokens}) exceeds the context window of ${model.engine.contextSize}`,
          { code: "prompt_too_long", hint: "Shorten the prompt or lower max_tokens" },
        );
      }
      const ceiling = ceilingFor({ price: model.price, promptTokens, maxTokens }) + (model.retrieval?.fee ?? 0n);
      const operator = deps.operatorKey !== undefined && c.req.header("authorization") === `Bearer ${deps.operatorKey}`;
      if (operator)
        return await serveUnpaid(c, deps, { kind, model, prompt, rawPrompt, body, maxTokens, route, started });
      const header = c.req.header(HEADERS.voucher);
      // A retrieval offering is paid through channels of its composite model only (claims pay the dataset).
      const door = deps.x402 && !model.retrieval && (await deps.x402.ready) ? deps.x402 : undefined;
      const charge = { resourceUrl: c.req.url, description: `${model.name} completion`, amount: ceiling };
      if (!header && door && c.req.header("payment-signature")) {
        let verified: Awaited<ReturnType<X402Door["verify"]>>;
        try {
          verified = await door.verify(c.req.raw.headers, charge);
        } catch (error) {
          if (error instanceof PaymentRequiredError) c.header("PAYMENT-REQUIRED", error.header);
          else if (error instanceof PaymentError && reasonStatus(error.code) === 402)
            c.header("PAYMENT-REQUIRED", await door.paymentRequired({ ...charge, error: error.code }));
          return errorResponse(c, error, { payment: paymentInfo(deps, model, ceiling) });
        }
        const sampling = {
          temperature: body.temperature ?? 1,
          topP: body.top_p ?? 1,
          seed: body.seed ?? 0,
          maxTokens,
          stop: body.stop ?? [],
        };
        return await serveX402(c, deps, {
          kind,
          model,
          prompt,
          sampling,
          stream: body.stream === true,
          route,
          door,
          verified,
        });
      }
      if (!header) {
        const error = new PaymentError("This request needs a voucher", {
          code: "payment_required",
          hint: door
            ? "Send a signed voucher in the Verity-Voucher header, or pay with x402 batch-settlement (PAYMENT-REQUIRED)"
            : "Open a channel to this provider and send a signed voucher in the Verity-Voucher header",
        });
        if (door) c.header("PAYMENT-REQUIRED", await door.paymentRequired(charge));
        return errorResponse(c, error, { payment: paymentInfo(deps, model, ceiling) });
      }
      // Channel payers can derive seeds; a provider that requires them refuses a request without one.
      if (model.requireSeed) requestSeedFields({ body, seedSync: model.seedSync, requireSeed: true });
      let reservation: Awaited<ReturnType<PaymentGate["authorize"]>>;
      try {
        reservation = await deps.gate.authorize({ header, modelId: model.modelId, ceiling });
      } catch (error) {
        // Every payment refusal says how to pay, including this request's exact ceiling.
        if (error instanceof PaymentError)
          return errorResponse(c, error, { payment: paymentInfo(deps, model, ceiling) });
        throw error;
      }
      const sampling: SamplingRequest = {
        temperature: body.temperature ?? 1,
        topP: body.top_p ?? 1,
        maxTokens,
        stop: body.stop ?? [],
        ...(body.seed == null ? {} : { seed: body.seed }),
        ...seedFields,
      };
      const requestId = newRequestId();
      const id = `${kind === "chat" ? "chatcmpl" : "cmpl"}-${requestId.slice(2, 26)}`;
      const created = Math.floor(Date.now() / 1000);
      const common = {
        model,
        prompt,
        ...(rendered === undefined ? {} : { renderedPrompt: rendered }),
        sampling,
        reservation,
        requestId,
        store: deps.store,
        signer: deps.signer,
        metrics: deps.metrics,
        ...(deps.receiptClock ? { now: deps.receiptClock } : {}),
        ...(retrieved && model.retrieval ? { retrieval: { record: retrieved, fee: model.retrieval.fee } } : {}),
      };
      const object = kind === "chat" ? "chat.completion" : "text_completion";
      const finish = (reason: string) => (reason === "length" ? "length" : "stop");
      if (!body.stream) {
        const controller = new AbortController();
        c.req.raw.signal?.addEventListener("abort", () => controller.abort());
        let paid: Awaited<ReturnType<typeof runPaidInference>>;
        try {
          paid = await runPaidInference({ ...common, signal: controller.signal });
        } catch (error) {
          if (error instanceof RequestAborted) return new Response(null, { status: 499 });
          throw error;
        }
        if (paid.aborted) {
          // Charged for the prompt and persisted; nobody is left to answer.
          deps.metrics.requests.inc({ route, status: "499" });
          return new Response(null, { status: 499 });
        }
        const usage = {
          prompt_tokens: paid.result.usage.promptTokens,
          completion_tokens: paid.result.usage.completionTokens,
          total_tokens: paid.result.usage.promptTokens + paid.result.usage.completionTokens,
        };
        const choice =
          kind === "chat"
            ? {
                index: 0,
                message: { role: "assistant", content: paid.result.text },
                logprobs: null,
                finish_reason: finish(paid.result.finishReason),
              }
            : { index: 0, text: paid.result.text, logprobs: null, finish_reason: finish(paid.result.finishReason) };
        c.header(HEADERS.charged, paid.cumulativeCharged.toString());
        c.header(HEADERS.receipt, Buffer.from(JSON.stringify(paid.signed)).toString("base64"));
        c.header(HEADERS.requestId, requestId);
        deps.metrics.latency.observe({ model: model.name, stream: "false" }, (performance.now() - started) / 1000);
        deps.metrics.requests.inc({ route, status: "200" });
        return c.json({
          id,
          object,
          created,
          model: model.name,
          choices: [choice],
          usage,
          verity: {
            requestId,
            charge: paid.charge.toString(),
            charged: paid.cumulativeCharged.toString(),
            ...paid.signed,
            transcript: paid.transcript,
          },
        });
      }
      c.header(HEADERS.requestId, requestId);
      return streamSSE(c, async (stream) => {
        const controller = new AbortController();
        stream.onAbort(() => controller.abort());
        const chunk = (delta: unknown, finishReason: string | null) =>
          JSON.stringify(
            kind === "chat"
              ? {
                  id,
                  object: "chat.completion.chunk",
                  created,
                  model: model.name,
                  choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
                }
              : {
                  id,
                  object: "text_completion",
                  created,
                  model: model.name,
                  choices: [{ index: 0, text: delta, logprobs: null, finish_reason: finishReason }],
                },
          );
        try {
          if (kind === "chat") await stream.writeSSE({ data: chunk({ role: "assistant", content: "" }, null) });
          // Output tokens written to the client before it went away: what an aborted stream is charged for.
          let delivered = 0;
          const paid = await runPaidInference({
            ...common,
            signal: controller.signal,
            delivered: () => delivered,
            onChunk: async (part) => {
              if (stream.aborted) return;
              if (part.text.length > 0)
                await stream.writeSSE({ data: chunk(kind === "chat" ? { content: part.text } : part.text, null) });
              // A chunk counts only when the client was still there after it was written.
              if (!stream.aborted) delivered += part.tokens.length;
            },
          });
          if (paid.aborted) {
            deps.metrics.requests.inc({ route, status: "499" });
            return;
          }
          await stream.writeSSE({ data: chunk(kind === "chat" ? {} : "", finish(paid.result.finishReason)) });
          const usage = {
            prompt_tokens: paid.result.usage.promptTokens,
            completion_tokens: paid.result.usage.completionTokens,
            total_tokens: paid.result.usage.promptTokens + paid.result.usage.completionTokens,
          };
          // The trailing event: usage (as with stream_options.include_usage) plus charge and receipt.
          await stream.writeSSE({
            data: JSON.stringify({
              id,
              object: kind === "chat" ? "chat.completion.chunk" : "text_completion",
              created,
              model: model.name,
              choices: [],
              usage,
              verity: {
                requestId,
                charge: paid.charge.toString(),
                charged: paid.cumulativeCharged.toString(),
                ...paid.signed,
                transcript: paid.transcript,
              },
            }),
          });
          await stream.writeSSE({ data: "[DONE]" });
          deps.metrics.latency.observe({ model: model.name, stream: "true" }, (performance.now() - started) / 1000);
          deps.metrics.requests.inc({ route, status: "200" });
        } catch (error) {
          if (error instanceof RequestAborted) return;
          const body = errorResponse(c, error);
          await stream.writeSSE({ data: await body.text() });
        }
      });
    } catch (error) {
      const response = errorResponse(c, error);
      deps.metrics.requests.inc({ route, status: String(response.status) });
      return response;
    }
  };
}
