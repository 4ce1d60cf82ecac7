import { BaseError, RequestError } from "@verity/core";
import type { ChatCompletionChunk, ChatMessage, VerityClient } from "@verity/sdk";
import type { HealthProber } from "./health-prober.ts";
import type { RouteOffer } from "./routing-policy.ts";

/** Reason codes after which the gateway tries the next provider (the request reached no answer). */
const RETRYABLE = new Set([
  "upstream_unreachable",
  "upstream_error",
  "internal_error",
  "rate_limited",
  "receipt_invalid",
  "overcharged",
  "receipt_timestamp_invalid",
  "no_channel_headroom",
  "voucher_below_ceiling",
  "voucher_not_monotonic",
  "voucher_replayed",
  "voucher_exceeds_escrow",
  "voucher_signer_mismatch",
  "voucher_wrong_channel",
  "channel_withdrawing",
  "payment_required",
  "no_healthy_offer",
  "unknown_agent",
  "endpoint_forbidden",
]);

export function retryable(error: unknown): boolean {
  if (!(error instanceof BaseError)) return true; // a dropped connection or a stream that died
  return RETRYABLE.has(error.code) || (Number(error.details.status ?? 0) >= 500 && error.code !== "invalid_request");
}

export type Attempt = { agentId: bigint; ok: boolean; code?: string; ms: number };

export type Forwarded<T> = { result: T; charge: bigint; agentId: bigint; attempts: Attempt[] };

/** A failed attempt's effect on health: a refused endpoint is marked forbidden, anything else a failure. */
function recordAttemptFailure(prober: HealthProber, url: string, error: unknown): void {
  if (error instanceof BaseError && error.code === "endpoint_forbidden") {
    prober.recordForbidden(url, String(error.details.reason ?? "forbidden address"));
  } else prober.recordFailure(url);
}

function failure(attempts: Attempt[], last: unknown): never {
  if (last instanceof BaseError && !retryable(last)) throw last;
  throw new RequestError("Every provider tried failed this request", {
    code: "all_providers_failed",
    hint: "Retry later; GET /v1/quote shows which providers would serve it",
    details: { attempts: attempts.map((a) => ({ agentId: a.agentId.toString(), code: a.code })) },
    cause: last,
  });
}

/**
 * Sends a non-streaming request down the route, failing over to the next provider on a connection
 * error, 5xx, or a refused receipt. A provider that failed charged nothing (a request that does not
 * complete is not charged by protocol), so the caller is charged once: the one verified charge.
 */
export async function forwardOnce<T extends { verity: { charge: string } }>(args: {
  route: readonly RouteOffer[];
  prober: HealthProber;
  send: (offer: RouteOffer) => Promise<T>;
  /** True when a failure is the caller's own (e.g. its payment hold was refused): no failover, no blame. */
  stopIf?: () => boolean;
}): Promise<Forwarded<T>> {
  const attempts: Attempt[] = [];
  let last: unknown;
  for (const offer of args.route) {
    const started = performance.now();
    try {
      const result = await args.send(offer);
      const ms = performance.now() - started;
      attempts.push({ agentId: offer.agentId, ok: true, ms });
      args.prober.recordSuccess(offer.url, ms);
      const tokens = (result as { usage?: { completion_tokens?: number } }).usage?.completion_tokens;
      if (tokens) args.prober.recordThroughput(offer.url, tokens, ms);
      return { result, charge: BigInt(result.verity.charge), agentId: offer.agentId, attempts };
    } catch (error) {
      last = error;
      attempts.push({
        agentId: offer.agentId,
        ok: false,
        code: (error as BaseError).code ?? "connection",
        ms: performance.now() - started,
      });
      if (!retryable(error) || args.stopIf?.()) throw error;
      recordAttemptFailure(args.prober, offer.url, error);
    }
  }
  return failure(attempts, last);
}

/**
 * Streams a chat completion with failover. Text is forwarded as it arrives; if the stream dies before
 * its first byte reached the caller the next provider simply starts over, and if it dies mid-way the
 * next provider continues the assistant message from the text already sent
 * (`continue_final_message`), so nothing is duplicated. Only completed attempts carry a charge.
 */
export async function forwardChatStream(args: {
  route: readonly RouteOffer[];
  prober: HealthProber;
  client: VerityClient;
  params: Record<string, unknown> & { messages: ChatMessage[]; max_tokens: number };
  write: (text: string) => Promise<void>;
  signal?: AbortSignal;
}): Promise<
  Forwarded<{
    text: string;
    finishReason: "stop" | "length";
    usage: { prompt_tokens: number; completion_tokens: number };
  }>
> {
  const attempts: Attempt[] = [];
  let sent = "";
  let sentPieces = 0;
  let charge = 0n;
  let last: unknown;
  for (const offer of args.route) {
    const started = performance.now();
    const continuing = sent.length > 0;
    const params = {
      ...args.params,
      stream: true as const,
      max_tokens: Math.max(1, args.params.max_tokens - sentPieces),
      ...(continuing
        ? {
            messages: [...args.params.messages, { role: "assistant" as const, content: sent }],
            continue_final_message: true,
          }
        : {}),
    };
    let finishReason: "stop" | "length" = "stop";
    let usage = { prompt_tokens: 0, completion_tokens: 0 };
    let finished = false;
    const completed = () => {
      const ms = performance.now() - started;
      attempts.push({ agentId: offer.agentId, ok: true, ms });
      args.prober.recordSuccess(offer.url, ms);
      args.prober.recordThroughput(offer.url, usage.completion_tokens, ms);
      return { result: { text: sent, finishReason, usage }, charge, agentId: offer.agentId, attempts };
    };
    try {
      const stream = await args.client.chat.completions.create(params as never, {
        agentId: offer.agentId,
        ...(args.signal ? { signal: args.signal } : {}),
      });
      for await (const chunk of stream as AsyncIterable<ChatCompletionChunk>) {
        const choice = chunk.choices[0];
        const text = choice?.delta?.content ?? "";
        if (text.length > 0) {
          sent += text;
          sentPieces++;
          await args.write(text);
        }
        if (choice?.finish_reason) finishReason = choice.finish_reason;
        if (chunk.verity) {
          charge += BigInt(chunk.verity.charge);
          usage = chunk.usage ?? usage;
          finished = true;
        }
      }
      if (!finished)
        throw new RequestError("The provider's stream ended without its receipt", { code: "upstream_error" });
      return completed();
    } catch (error) {
      // The verified receipt arrived, so the answer is complete and charged: a connection that drops
      // after it (before `[DONE]`) must not send the request on to another provider, which would
      // append to a finished answer and charge the caller twice.
      if (finished && !args.signal?.aborted) return completed();
      last = error;
      attempts.push({
        agentId: offer.agentId,
        ok: false,
        code: (error as BaseError).code ?? "stream_died",
        ms: performance.now() - started,
      });
      if (args.signal?.aborted || !retryable(error)) throw error;
      recordAttemptFailure(args.prober, offer.url, error);
    }
  }
  return failure(attempts, last);
}
