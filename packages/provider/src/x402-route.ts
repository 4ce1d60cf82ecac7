/**
 * A completion paid through the provider's x402 door (batch-settlement): the voucher covers the
 * request's ceiling; a plain answer is charged what it cost, after generation, and carries
 * `PAYMENT-RESPONSE`; a stream is charged its ceiling before the first token (the header has to
 * go out first). The charge is committed to the channel record before any text is released; a
 * request that fails before that frees the channel and charges nothing.
 */

import type { BatchVerified } from "@verity/chain/x402";
import { chargeFor } from "@verity/core";
import type { Prompt } from "@verity/engine";
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { CompletionsDeps } from "./completions-route.ts";
import type { ServedModel } from "./served-model.ts";
import type { X402Door } from "./x402-door.ts";

export type X402Args = {
  kind: "chat" | "text";
  model: ServedModel;
  prompt: Prompt;
  sampling: { temperature: number; topP: number; seed: number; maxTokens: number; stop: string[] };
  stream: boolean;
  route: string;
  door: X402Door;
  verified: BatchVerified;
};

export async function serveX402(c: Context, deps: CompletionsDeps, args: X402Args): Promise<Response> {
  const { model, kind, door, verified } = args;
  const id = `${kind === "chat" ? "chatcmpl" : "cmpl"}-x${Date.now().toString(36)}`;
  const created = Math.floor(Date.now() / 1000);
  const finish = (reason: string) => (reason === "length" ? "length" : "stop");
  const generate = (onChunk?: (t: { text: string; tokens: number[] }) => Promise<void>, signal?: AbortSignal) =>
    model.queue.run(() =>
      model.engine.generate({
        prompt: args.prompt,
        sampling: args.sampling,
        ...(signal ? { signal } : {}),
        ...(onChunk ? { onChunk } : {}),
      }),
    );
  const usageOf = (r: { usage: { promptTokens: number; completionTokens: number } }) => ({
    prompt_tokens: r.usage.promptTokens,
    completion_tokens: r.usage.completionTokens,
    total_tokens: r.usage.promptTokens + r.usage.completionTokens,
  });
  if (!args.stream) {
    let result: Awaited<ReturnType<typeof generate>>;
    try {
      result = await generate();
    } catch (error) {
      await door.release(verified);
      throw error;
    }
    const cost = chargeFor({
      price: model.price,
      promptTokens: result.usage.promptTokens,
      completionTokens: result.usage.completionTokens,
    });
    const settled = await door.settle(verified, cost);
    c.header("PAYMENT-RESPONSE", settled.header);
    deps.metrics.requests.inc({ route: args.route, status: "200" });
    const choice =
      kind === "chat"
        ? {
            index: 0,
            message: { role: "assistant", content: result.text },
            logprobs: null,
            finish_reason: finish(result.finishReason),
          }
        : { index: 0, text: result.text, logprobs: null, finish_reason: finish(result.finishReason) };
    return c.json({
      id,
      object: kind === "chat" ? "chat.completion" : "text_completion",
      created,
      model: model.name,
      choices: [choice],
      usage: usageOf(result),
      verity: {
        x402: { scheme: "batch-settlement", channelId: verified.channelId, charge: settled.amount.toString() },
      },
    });
  }
  const settled = await door.settle(verified, verified.amount);
  c.header("PAYMENT-RESPONSE", settled.header);
  return streamSSE(c, async (stream) => {
    const controller = new AbortController();
    stream.onAbort(() => controller.abort());
    const object = kind === "chat" ? "chat.completion.chunk" : "text_completion";
    const send = (choices: Record<string, unknown>[], extra: Record<string, unknown> = {}) =>
      stream.writeSSE({ data: JSON.stringify({ id, object, created, model: model.name, choices, ...extra }) });
    const result = await generate(async (part) => {
      if (part.text.length === 0) return;
      await send([
        kind === "chat"
          ? { index: 0, delta: { content: part.text }, finish_reason: null }
          : { index: 0, text: part.text, finish_reason: null },
      ]);
    }, controller.signal);
    if (result.finishReason === "abort") return;
    await send([
      kind === "chat"
        ? { index: 0, delta: {}, finish_reason: finish(result.finishReason) }
        : { index: 0, text: "", finish_reason: finish(result.finishReason) },
    ]);
    await send([], {
      usage: usageOf(result),
      verity: {
        x402: { scheme: "batch-settlement", channelId: verified.channelId, charge: settled.amount.toString() },
      },
    });
    await stream.writeSSE({ data: "[DONE]" });
    deps.metrics.requests.inc({ route: args.route, status: "200" });
  });
}
