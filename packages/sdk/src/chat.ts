/**
 * `chat.completions.create` and `completions.create` with the OpenAI request and response shapes:
 * bound the prompt, route, reserve, pay, verify. `stream: true` resolves to an async iterable of
 * chunks ending with the usage chunk (`choices: []`, `usage`, `verity`), like the `openai` client
 * with `stream_options.include_usage`.
 */
import { RequestError } from "@verity/core";
import { estimateChatPromptTokens, estimateTextPromptTokens } from "./ceiling.ts";
import type { ContextClient } from "./context-client.ts";
import { resolveContextReference } from "./context-resolve.ts";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
  ChunkStream,
  Completion,
  CompletionChunk,
  CompletionCreateParams,
  CompletionCreateParamsNonStreaming,
  CompletionCreateParamsStreaming,
  RequestOptions,
} from "./openai-types.ts";
import type { PaidRequests } from "./paid-request.ts";
import type { Router } from "./router.ts";

export type ChatCompletionsApi = {
  create(
    params: ChatCompletionCreateParamsStreaming,
    options?: RequestOptions,
  ): Promise<ChunkStream<ChatCompletionChunk>>;
  create(params: ChatCompletionCreateParamsNonStreaming, options?: RequestOptions): Promise<ChatCompletion>;
  create(
    params: ChatCompletionCreateParams,
    options?: RequestOptions,
  ): Promise<ChatCompletion | ChunkStream<ChatCompletionChunk>>;
};

export type CompletionsApi = {
  create(params: CompletionCreateParamsStreaming, options?: RequestOptions): Promise<ChunkStream<CompletionChunk>>;
  create(params: CompletionCreateParamsNonStreaming, options?: RequestOptions): Promise<Completion>;
  create(params: CompletionCreateParams, options?: RequestOptions): Promise<Completion | ChunkStream<CompletionChunk>>;
};

function invalid(message: string): never {
  throw new RequestError(message, { code: "invalid_request", hint: "See the OpenAI API reference for this endpoint" });
}

function checkCommon(params: { model?: unknown; max_tokens?: unknown; n?: unknown }): void {
  if (typeof params.model !== "string" || params.model.length === 0) invalid("model must be a non-empty string");
  if (params.max_tokens != null && (!Number.isInteger(params.max_tokens) || (params.max_tokens as number) < 1)) {
    invalid("max_tokens must be a positive integer");
  }
  if (params.n != null && params.n !== 1) invalid("only n = 1 is supported");
}

/**
 * `resolve` starts the client if needed and hands over its router and payer; `context` resolves a
 * body's `verity_context` reference on this machine before anything is routed or paid.
 */
export function createCompletionsApi(
  resolve: () => Promise<{ router: Router; paid: PaidRequests }>,
  extras: { context?: ContextClient } = {},
) {
  async function chatCreate(original: ChatCompletionCreateParams, options: RequestOptions = {}) {
    const params = await resolveContextReference({ body: original, context: extras.context });
    checkCommon(params);
    if (!Array.isArray(params.messages) || params.messages.length === 0) invalid("messages must be a non-empty array");
    options.ready?.catch(() => {}); // awaited before the voucher leaves; unobserved if the request fails sooner
    const deps = await resolve();
    const { max_completion_tokens, ...rest } = params;
    const route = await deps.router.route({
      kind: "chat",
      model: params.model,
      promptTokenBound: estimateChatPromptTokens(params.messages, {
        tools: params.tools,
        toolChoice: params.tool_choice,
      }),
      maxTokens: max_completion_tokens ?? params.max_tokens,
      options,
    });
    const body = { ...rest, max_tokens: route.maxTokens, stream: params.stream === true };
    const req = {
      kind: "chat" as const,
      body,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.ready ? { ready: options.ready } : {}),
    };
    return params.stream === true
      ? deps.paid.stream<ChatCompletionChunk>(route, req)
      : deps.paid.json<ChatCompletion>(route, req);
  }

  async function textCreate(params: CompletionCreateParams, options: RequestOptions = {}) {
    checkCommon(params);
    const prompt = params.prompt as unknown;
    if (typeof prompt !== "string" && !(Array.isArray(prompt) && prompt.length > 0)) {
      invalid("prompt must be a string, one string in an array, or token ids");
    }
    options.ready?.catch(() => {}); // awaited before the voucher leaves; unobserved if the request fails sooner
    const deps = await resolve();
    const route = await deps.router.route({
      kind: "text",
      model: params.model,
      promptTokenBound: estimateTextPromptTokens(params.prompt),
      maxTokens: params.max_tokens,
      options,
    });
    const body = { ...params, max_tokens: route.maxTokens, stream: params.stream === true };
    const req = {
      kind: "text" as const,
      body,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.ready ? { ready: options.ready } : {}),
    };
    return params.stream === true
      ? deps.paid.stream<CompletionChunk>(route, req)
      : deps.paid.json<Completion>(route, req);
  }

  return {
    chat: { completions: { create: chatCreate } as ChatCompletionsApi },
    completions: { create: textCreate } as CompletionsApi,
  };
}
