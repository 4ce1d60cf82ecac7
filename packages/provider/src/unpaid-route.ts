import type { Prompt } from "@verity/engine";
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { CompletionsDeps } from "./completions-route.ts";
import type { ServedModel } from "./served-model.ts";

type UnpaidArgs = {
  kind: "chat" | "text";
  model: ServedModel;
  prompt: Prompt;
  rawPrompt: string | number[] | undefined;
  body: {
    temperature?: number | null | undefined;
    top_p?: number | null | undefined;
    seed?: number | null | undefined;
    stop?: string[] | null | undefined;
    stream?: boolean | null | undefined;
    prompt_logprobs?: unknown;
  };
  maxTokens: number;
  route: string;
  started: number;
};

/**
 * The operator's own traffic (Bearer operator key): served without voucher, charge or receipt, in
 * the plain OpenAI shape. This is what makes a provider usable as an upstream by another engine,
 * including vLLM-style `prompt_logprobs` for teacher-forced re-scoring over HTTP.
 */
export async function serveUnpaid(c: Context, deps: CompletionsDeps, args: UnpaidArgs): Promise<Response> {
  const { model, kind } = args;
  const id = `${kind === "chat" ? "chatcmpl" : "cmpl"}-op${Date.now().toString(36)}`;
  const created = Math.floor(Date.now() / 1000);
  const sampling = {
    temperature: args.body.temperature ?? 1,
    topP: args.body.top_p ?? 1,
    seed: args.body.seed ?? 0,
    maxTokens: args.maxTokens,
    stop: args.body.stop ?? [],
  };
  let promptLogprobs: unknown[] | undefined;
  const topK = typeof args.body.prompt_logprobs === "number" ? args.body.prompt_logprobs : undefined;
  if (kind === "text" && topK !== undefined) {
    const tokens = Array.isArray(args.rawPrompt)
      ? args.rawPrompt
      : [1, ...model.engine.tokenize(String(args.rawPrompt ?? ""))];
    const [first, ...rest] = tokens;
    const scored =
      rest.length > 0 && first !== undefined
        ? await model.queue.run(() => model.engine.rescore({ promptTokens: [first], outputTokens: rest, topK }))
        : { scores: [] };
    promptLogprobs = [
      null,
      ...scored.scores.map((s) => {
        const entry: Record<string, { logprob: number; rank: number; decoded_token: string }> = {
          [String(s.token)]: { logprob: s.logprob, rank: s.rank, decoded_token: model.engine.detokenize([s.token]) },
        };
        for (const [i, alt] of (s.top ?? []).entries()) {
          entry[String(alt.token)] ??= {
            logprob: alt.logprob,
            rank: i + 1,
            decoded_token: model.engine.detokenize([alt.token]),
          };
        }
        return entry;
      }),
    ];
  }
  const generate = (onChunk?: (t: { text: string; tokens: number[] }) => Promise<void>, signal?: AbortSignal) =>
    model.queue.run(() =>
      model.engine.generate({
        prompt: args.prompt,
        sampling,
        ...(signal ? { signal } : {}),
        ...(onChunk ? { onChunk } : {}),
      }),
    );
  const finish = (reason: string) => (reason === "length" ? "length" : "stop");
  if (!args.body.stream) {
    const result = await generate();
    deps.metrics.requests.inc({ route: args.route, status: "200" });
    const usage = {
      prompt_tokens: result.usage.promptTokens,
      completion_tokens: result.usage.completionTokens,
      total_tokens: result.usage.promptTokens + result.usage.completionTokens,
    };
    const choice =
      kind === "chat"
        ? {
            index: 0,
            message: { role: "assistant", content: result.text },
            logprobs: null,
            finish_reason: finish(result.finishReason),
          }
        : {
            index: 0,
            text: result.text,
            logprobs: null,
            finish_reason: finish(result.finishReason),
            ...(promptLogprobs ? { prompt_logprobs: promptLogprobs } : {}),
          };
    return c.json({
      id,
      object: kind === "chat" ? "chat.completion" : "text_completion",
      created,
      model: model.name,
      choices: [choice],
      usage,
      verity: { promptTokenIds: result.promptTokens, outputTokenIds: result.outputTokens },
    });
  }
  return streamSSE(c, async (stream) => {
    const controller = new AbortController();
    stream.onAbort(() => controller.abort());
    const object = kind === "chat" ? "chat.completion.chunk" : "text_completion";
    const send = (choice: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      stream.writeSSE({
        data: JSON.stringify({ id, object, created, model: model.name, choices: [choice], ...extra }),
      });
    const result = await generate(async (part) => {
      if (part.text.length === 0) return;
      await send(
        kind === "chat"
          ? { index: 0, delta: { content: part.text }, finish_reason: null }
          : { index: 0, text: part.text, finish_reason: null },
      );
    }, controller.signal);
    if (result.finishReason === "abort") return;
    await send(
      kind === "chat"
        ? { index: 0, delta: {}, finish_reason: finish(result.finishReason) }
        : { index: 0, text: "", finish_reason: finish(result.finishReason) },
    );
    await stream.writeSSE({
      data: JSON.stringify({
        id,
        object,
        created,
        model: model.name,
        choices: [],
        usage: {
          prompt_tokens: result.usage.promptTokens,
          completion_tokens: result.usage.completionTokens,
          total_tokens: result.usage.promptTokens + result.usage.completionTokens,
        },
        verity: { promptTokenIds: result.promptTokens, outputTokenIds: result.outputTokens },
      }),
    });
    await stream.writeSSE({ data: "[DONE]" });
  });
}
