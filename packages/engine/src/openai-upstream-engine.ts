/**
 * An engine that proxies to an OpenAI-compatible server (vLLM, SGLang, Ollama, llama.cpp server, or
 * a Verity provider with its operator key), so a provider can serve a model that runs elsewhere and a
 * validator can rescore over HTTP.
 *
 * - `generate` streams `/v1/chat/completions` (chat prompts) or `/v1/completions` (text prompts)
 *   with `stream_options.include_usage`; usage and finish reason are the upstream's.
 * - Token ids (`promptTokens`, `outputTokens`, which providers hash into receipts) are exact when the
 *   upstream reports them (a Verity provider's `verity.promptTokenIds/outputTokenIds`, vLLM's
 *   `prompt_token_ids`/`token_ids`); otherwise they come from the upstream's `/tokenize` (the prompt as
 *   the upstream renders it; the output re-tokenized from its text, which can differ from the sampled
 *   ids); with no tokenizer endpoint they are empty and only `usage` counts. Chunks carry the text as
 *   it streams; ids the upstream does not stream arrive in one last chunk with empty text.
 * - `tokenize` and `renderChat` are synchronous in the Engine interface and HTTP is not: they return
 *   conservative stand-ins whose LENGTH is an upper bound (UTF-8 bytes; see
 *   openai-upstream-tokenizer.ts) and whose ids are not the model's. `tokenizeAsync`,
 *   `renderChatAsync` and `detokenizeAsync` give exact answers. Synchronous `detokenize` throws
 *   `upstream_unsupported`.
 * - `rescore` needs vLLM-style `prompt_logprobs` (openai-upstream-rescore.ts).
 * - Seed-synced sampling is not possible: the upstream samples with its own RNG, so a request with
 *   `sampling.seedKey` is rejected (`upstream_unsupported`) rather than served with noise a validator
 *   could not replay. A `rescore` with `seeded` returns scores without `seeded` margins; an audit
 *   then has no seeded check to run and uses the distributional checks alone (it never fails a
 *   provider on a seeded check it could not run).
 */
import { createHash } from "node:crypto";
import { ConfigError, RequestError } from "@verity/core";
import { z } from "zod";
import {
  type ChatMessage,
  chatMessageSchema,
  type Engine,
  type FinishReason,
  type GenerateRequest,
  type GenerateResult,
  type Hex32,
  type ModelIdentity,
  promptSchema,
  samplingSchema,
} from "./engine.ts";
import { createUpstreamHttp, type UpstreamHttp } from "./openai-upstream-http.ts";
import { rescoreOverHttp } from "./openai-upstream-rescore.ts";
import {
  approximateChatTokens,
  byteTokens,
  detokenizeUnsupported,
  probeUpstreamTokenizer,
  type UpstreamTokenizer,
} from "./openai-upstream-tokenizer.ts";

export type OpenAIUpstreamEngineOptions = {
  /** Server root or its `/v1`: `http://127.0.0.1:8000` or `http://127.0.0.1:8000/v1`. */
  baseUrl: string;
  /** The upstream's model id (as listed by its `GET /v1/models`); also this engine's `name`. */
  model: string;
  /** Sent as `Authorization: Bearer <apiKey>` (a Verity provider's operator key). */
  apiKey?: string;
  headers?: Record<string, string>;
  /** Defaults to what `/v1/models` says (Verity `verity.contextSize`, vLLM `max_model_len`, llama.cpp `meta.n_ctx_train`). */
  contextSize?: number;
  /** Defaults to llama.cpp's `meta.n_vocab`, else unknown (token ids are then checked by the upstream). */
  vocabSize?: number;
  /**
   * The registered model the upstream serves, as the operator states it. Without it the identity is
   * `sha256("upstream:" + baseUrl + model)` for both hashes: a label, NOT a verifiable identity.
   */
  identity?: ModelIdentity;
  /**
   * Called when the upstream's `usage` differs from this engine's own count of the token ids
   * (the upstream's ids, or its `/tokenize`). The result always carries the own count.
   */
  onUsageMismatch?: (mismatch: { reported: Usage; counted: Usage }) => void;
  fetch?: typeof fetch;
};

type Usage = { promptTokens: number; completionTokens: number };

export type OpenAIUpstreamEngine = Engine & {
  readonly baseUrl: string;
  /** What the upstream's tokenizer endpoints support (probed at creation). */
  readonly tokenizer: Pick<UpstreamTokenizer, "tokenize" | "detokenize" | "textPrefix">;
  /** Exact tokenization by the upstream; undefined when it has no `/tokenize`. */
  tokenizeAsync(text: string): Promise<number[] | undefined>;
  detokenizeAsync(tokens: readonly number[]): Promise<string | undefined>;
  renderChatAsync(messages: readonly ChatMessage[]): Promise<number[] | undefined>;
  /** What the upstream's `GET /v1/models` says of the model (digests only from a Verity server). */
  readonly reported: { weightsHash?: string; tokenizerHash?: string; contextSize?: number };
  /** One `GET /v1/models` within `timeoutMs` (default 2 s); throws unless it lists the model. */
  probe(options?: { timeoutMs?: number }): Promise<void>;
};

const modelsSchema = z.looseObject({
  data: z.array(
    z.looseObject({
      id: z.string(),
      max_model_len: z.number().int().positive().nullish(),
      meta: z
        .looseObject({
          n_ctx_train: z.number().int().positive().nullish(),
          n_vocab: z.number().int().positive().nullish(),
        })
        .nullish(),
      verity: z
        .looseObject({
          contextSize: z.number().int().positive().nullish(),
          weightsHash: z.string().nullish(),
          tokenizerHash: z.string().nullish(),
        })
        .nullish(),
    }),
  ),
});

const tokenIds = z.array(z.number().int().nonnegative());
const chunkSchema = z.looseObject({
  choices: z
    .array(
      z.looseObject({
        text: z.string().nullish(),
        delta: z.looseObject({ content: z.string().nullish() }).nullish(),
        finish_reason: z.string().nullish(),
        token_ids: tokenIds.nullish(),
        prompt_token_ids: tokenIds.nullish(),
      }),
    )
    .nullish(),
  usage: z.looseObject({ prompt_tokens: z.number().int(), completion_tokens: z.number().int() }).nullish(),
  prompt_token_ids: tokenIds.nullish(),
  verity: z.looseObject({ promptTokenIds: tokenIds.optional(), outputTokenIds: tokenIds.optional() }).nullish(),
});

/** The label identity of an upstream whose operator did not state which registered model it serves. */
export function upstreamLabelIdentity(baseUrl: string, model: string): ModelIdentity {
  const hash: Hex32 = `0x${createHash("sha256").update(`upstream:${baseUrl}${model}`).digest("hex")}`;
  return { weightsHash: hash, tokenizerHash: hash };
}

function asConfigError(error: unknown): unknown {
  if (!(error instanceof RequestError)) return error;
  const suffix = error.hint === undefined ? "" : `. ${error.hint}`;
  const message = suffix && error.message.endsWith(suffix) ? error.message.slice(0, -suffix.length) : error.message;
  return new ConfigError(message, {
    code: error.code,
    ...(error.hint === undefined ? {} : { hint: error.hint }),
    details: error.details,
    cause: error,
  });
}

function invalid(what: string, error: z.ZodError): RequestError {
  return new RequestError(`Invalid ${what}`, { code: "invalid_request", details: { issues: error.issues } });
}

/** Connects to the upstream, checks that it serves `model`, probes its tokenizer endpoints. */
export async function createOpenAIUpstreamEngine(options: OpenAIUpstreamEngineOptions): Promise<OpenAIUpstreamEngine> {
  let http: UpstreamHttp;
  let listed: z.output<typeof modelsSchema>;
  try {
    http = createUpstreamHttp(options);
    const parsed = modelsSchema.safeParse(await http.json("/v1/models", {}));
    if (!parsed.success) {
      throw new RequestError(`${http.root}/v1/models is not an OpenAI model list`, {
        code: "upstream_error",
        hint: "Check that the base URL points at an OpenAI-compatible server",
      });
    }
    listed = parsed.data;
  } catch (error) {
    throw asConfigError(error);
  }
  const entry = listed.data.find((m) => m.id === options.model);
  if (!entry) {
    const served = listed.data.map((m) => m.id);
    throw new ConfigError(`The upstream ${http.root} does not serve model ${JSON.stringify(options.model)}`, {
      code: "unknown_model",
      hint: served.length > 0 ? `It serves: ${served.join(", ")}` : "It lists no models",
      details: { served },
    });
  }
  const contextSize =
    options.contextSize ?? entry.verity?.contextSize ?? entry.max_model_len ?? entry.meta?.n_ctx_train ?? undefined;
  if (contextSize === undefined) {
    throw new ConfigError(`The upstream does not say the context size of ${options.model}`, {
      code: "invalid_parameter",
      hint: "Set contextSize to the upstream's context window in tokens",
    });
  }
  const reportedContext = entry.verity?.contextSize ?? entry.max_model_len ?? entry.meta?.n_ctx_train;
  const vocabSize = options.vocabSize ?? entry.meta?.n_vocab ?? Number.MAX_SAFE_INTEGER;
  const tokenizer = await probeUpstreamTokenizer({ http, model: options.model });
  const identity = options.identity ?? upstreamLabelIdentity(http.root, options.model);
  const inFlight = new Set<AbortController>();
  let closed = false;

  function ensureOpen(): void {
    if (closed) throw new ConfigError("The engine is closed", { code: "internal_error" });
  }

  async function generate(request: GenerateRequest): Promise<GenerateResult> {
    ensureOpen();
    const prompt = promptSchema.safeParse(request.prompt);
    if (!prompt.success) throw invalid("prompt", prompt.error);
    const sampling = samplingSchema.safeParse(request.sampling);
    if (!sampling.success) throw invalid("sampling", sampling.error);
    const s = sampling.data;
    if (s.seedKey !== undefined) {
      throw new RequestError("An OpenAI-compatible upstream cannot sample with a Verity seed key", {
        code: "upstream_unsupported",
        hint: "Serve seed-synced requests from a local llama.cpp engine",
      });
    }
    const chat = "messages" in prompt.data;
    const body = {
      model: options.model,
      ...("messages" in prompt.data ? { messages: prompt.data.messages } : { prompt: prompt.data.text }),
      max_tokens: s.maxTokens,
      temperature: s.temperature,
      top_p: s.topP,
      seed: s.seed,
      ...(s.stop.length > 0 ? { stop: s.stop } : {}),
      stream: true,
      stream_options: { include_usage: true },
    };
    const controller = new AbortController();
    inFlight.add(controller);
    const signal = request.signal ? AbortSignal.any([request.signal, controller.signal]) : controller.signal;
    let text = "";
    let finishReason: FinishReason | undefined;
    let usage: Usage | undefined;
    let exactPrompt: number[] | undefined;
    let exactOutput: number[] | undefined;
    const streamed: number[] = [];
    try {
      for await (const event of http.events(chat ? "/v1/chat/completions" : "/v1/completions", body, signal)) {
        const chunk = chunkSchema.safeParse(event);
        if (!chunk.success) continue;
        const { choices, verity } = chunk.data;
        if (chunk.data.usage) {
          usage = {
            promptTokens: chunk.data.usage.prompt_tokens,
            completionTokens: chunk.data.usage.completion_tokens,
          };
        }
        exactPrompt =
          verity?.promptTokenIds ?? chunk.data.prompt_token_ids ?? choices?.[0]?.prompt_token_ids ?? exactPrompt;
        if (verity?.outputTokenIds) exactOutput = verity.outputTokenIds;
        const choice = choices?.[0];
        if (!choice) continue;
        const part = (chat ? choice.delta?.content : choice.text) ?? "";
        const tokens = choice.token_ids ?? [];
        if (choice.finish_reason) finishReason = choice.finish_reason === "length" ? "length" : "stop";
        if (part.length === 0 && tokens.length === 0) continue;
        text += part;
        streamed.push(...tokens);
        await request.onChunk?.({ text: part, tokens });
      }
    } catch (error) {
      if (!signal.aborted) throw error;
      finishReason = "abort";
    } finally {
      inFlight.delete(controller);
    }
    if (signal.aborted) finishReason = "abort";
    const promptIds =
      exactPrompt ??
      ("messages" in prompt.data
        ? await tokenizer.tokenizeChat(prompt.data.messages)
        : await tokenizer.tokenizeText(prompt.data.text).then((t) => t && [...tokenizer.textPrefix, ...t]));
    const outputIds =
      exactOutput ?? (streamed.length > 0 ? streamed : undefined) ?? (await tokenizer.tokenizeText(text));
    const promptTokens = promptIds ?? [];
    const outputTokens = outputIds ?? [];
    // Concatenated chunks give outputTokens: ids learned only at the end go out as one last chunk
    // with no text. After an abort the upstream sends no ids or usage: both then come from
    // re-tokenizing the text so far (zero without a tokenizer).
    const missing = outputTokens.slice(streamed.length);
    if (missing.length > 0 && streamed.every((t, i) => outputTokens[i] === t)) {
      await request.onChunk?.({ text: "", tokens: missing });
    }
    // Usage is the own count wherever the ids are known; the upstream's word only fills a gap (a
    // server with neither ids nor a tokenizer). A differing report is surfaced, never charged.
    const counted: Usage = {
      promptTokens: promptIds?.length ?? usage?.promptTokens ?? 0,
      completionTokens: outputIds?.length ?? usage?.completionTokens ?? 0,
    };
    if (usage && (usage.promptTokens !== counted.promptTokens || usage.completionTokens !== counted.completionTokens)) {
      options.onUsageMismatch?.({ reported: usage, counted });
    }
    return { promptTokens, outputTokens, text, finishReason: finishReason ?? "stop", usage: counted };
  }

  return {
    name: options.model,
    identity,
    contextSize,
    vocabSize,
    baseUrl: http.root,
    reported: {
      ...(entry.verity?.weightsHash ? { weightsHash: entry.verity.weightsHash } : {}),
      ...(entry.verity?.tokenizerHash ? { tokenizerHash: entry.verity.tokenizerHash } : {}),
      ...(reportedContext == null ? {} : { contextSize: reportedContext }),
    },
    async probe(probeOptions = {}) {
      ensureOpen();
      const parsed = modelsSchema.safeParse(
        await http.json("/v1/models", { timeoutMs: probeOptions.timeoutMs ?? 2_000 }),
      );
      if (!parsed.success || !parsed.data.data.some((m) => m.id === options.model)) {
        throw new RequestError(`The upstream ${http.root} no longer lists model ${options.model}`, {
          code: "upstream_error",
          hint: "Check the inference server",
        });
      }
    },
    tokenizer: { tokenize: tokenizer.tokenize, detokenize: tokenizer.detokenize, textPrefix: tokenizer.textPrefix },
    tokenize(text) {
      ensureOpen();
      return byteTokens(text);
    },
    detokenize() {
      throw detokenizeUnsupported();
    },
    renderChat(messages) {
      ensureOpen();
      const parsed = z.array(chatMessageSchema).safeParse(messages);
      if (!parsed.success) throw invalid("messages", parsed.error);
      return approximateChatTokens(parsed.data);
    },
    async tokenizeAsync(text) {
      ensureOpen();
      return tokenizer.tokenizeText(text);
    },
    async detokenizeAsync(tokens) {
      ensureOpen();
      return tokenizer.detokenizeTokens(tokens);
    },
    async renderChatAsync(messages) {
      ensureOpen();
      return tokenizer.tokenizeChat(messages);
    },
    generate,
    async rescore(request) {
      ensureOpen();
      return rescoreOverHttp({ http, model: options.model, request });
    },
    async close() {
      closed = true;
      for (const controller of inFlight) controller.abort();
    },
  };
}
