/**
 * Tokenization for an OpenAI-compatible upstream. Two layers:
 *
 * - Asynchronous and exact, when the upstream has tokenizer endpoints (probed once):
 *   llama.cpp server and Verity providers `POST /tokenize {content} → {tokens}`,
 *   `POST /detokenize {tokens} → {content}`; vLLM and SGLang `POST /tokenize {model, prompt} → {tokens}`,
 *   `POST /detokenize {model, tokens} → {prompt}`. One request body carries both spellings.
 *   Chats: vLLM's `/tokenize {model, messages, add_generation_prompt}`, else llama.cpp's
 *   `/apply-template` followed by `/tokenize`.
 * - Synchronous and conservative (the Engine interface's `tokenize` and `renderChat` are
 *   synchronous and cannot wait for HTTP): `byteTokens` and `approximateChatTokens` over-count.
 */
import { RequestError } from "@verity/core";
import type { ChatMessage } from "./engine.ts";
import type { UpstreamHttp } from "./openai-upstream-http.ts";

export type UpstreamTokenizer = {
  /** Which tokenizer endpoints the upstream has. */
  readonly tokenize: boolean;
  readonly detokenize: boolean;
  /**
   * Tokens `/v1/completions` puts before a text prompt (BOS), learned by tokenizing "" with special
   * tokens; empty when the upstream adds none or does not say.
   */
  readonly textPrefix: readonly number[];
  /** Plain text to tokens (no BOS, control-token text as text), or undefined without `/tokenize`. */
  tokenizeText(text: string, signal?: AbortSignal): Promise<number[] | undefined>;
  detokenizeTokens(tokens: readonly number[], signal?: AbortSignal): Promise<string | undefined>;
  /** A chat's prompt tokens as the upstream renders it, or undefined when it cannot say. */
  tokenizeChat(messages: readonly ChatMessage[], signal?: AbortSignal): Promise<number[] | undefined>;
};

const PROBE_TEXT = "Hello, world!";

function tokensOf(body: unknown): number[] | undefined {
  const tokens = (body as { tokens?: unknown } | null)?.tokens;
  return Array.isArray(tokens) && tokens.every((t) => Number.isInteger(t) && t >= 0) ? (tokens as number[]) : undefined;
}

/** Probes the upstream's tokenizer endpoints once (a failing probe means "not supported"). */
export async function probeUpstreamTokenizer(options: {
  http: UpstreamHttp;
  model: string;
}): Promise<UpstreamTokenizer> {
  const { http, model } = options;

  async function post(path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    const response = await http.send(path, { body, timeoutMs: 30_000, ...(signal ? { signal } : {}) });
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    return response.json().catch(() => undefined);
  }

  const textBody = (text: string, special: boolean) => ({
    model,
    content: text,
    prompt: text,
    add_special: special,
    add_special_tokens: special,
  });

  const probe = tokensOf(await post("/tokenize", textBody(PROBE_TEXT, false)).catch(() => undefined));
  const canTokenize = probe !== undefined && probe.length > 0;
  let canDetokenize = false;
  let textPrefix: number[] = [];
  if (canTokenize) {
    const back = await post("/detokenize", { model, tokens: probe }).catch(() => undefined);
    const text =
      (back as { content?: unknown; prompt?: unknown } | undefined)?.content ?? (back as { prompt?: unknown })?.prompt;
    canDetokenize = typeof text === "string" && text.includes("Hello");
    textPrefix = tokensOf(await post("/tokenize", textBody("", true)).catch(() => undefined)) ?? [];
  }
  let chatRoute: "vllm" | "apply-template" | "none" | undefined;

  async function tokenizeText(text: string, signal?: AbortSignal): Promise<number[] | undefined> {
    if (!canTokenize) return undefined;
    if (text.length === 0) return [];
    return tokensOf(await post("/tokenize", textBody(text, false), signal));
  }

  async function viaVllm(messages: readonly ChatMessage[], signal?: AbortSignal) {
    const body = { model, messages, add_generation_prompt: true, add_special_tokens: false };
    return tokensOf(await post("/tokenize", body, signal));
  }

  async function viaApplyTemplate(messages: readonly ChatMessage[], signal?: AbortSignal) {
    const rendered = (await post("/apply-template", { messages }, signal)) as { prompt?: unknown } | undefined;
    if (typeof rendered?.prompt !== "string") return undefined;
    // llama.cpp's chat completions tokenize the rendered prompt with special tokens parsed.
    const body = { content: rendered.prompt, add_special: true, parse_special: true };
    return tokensOf(await post("/tokenize", body, signal));
  }

  async function tokenizeChat(messages: readonly ChatMessage[], signal?: AbortSignal): Promise<number[] | undefined> {
    if (!canTokenize || chatRoute === "none") return undefined;
    if (chatRoute === "vllm") return viaVllm(messages, signal);
    if (chatRoute === "apply-template") return viaApplyTemplate(messages, signal);
    // First use: find which route this upstream has. A llama.cpp server ignores `messages` on
    // /tokenize and answers for an empty text, so an empty list means "not this route".
    const vllm = await viaVllm(messages, signal);
    if (vllm !== undefined && vllm.length > 0) {
      chatRoute = "vllm";
      return vllm;
    }
    const templated = await viaApplyTemplate(messages, signal);
    chatRoute = templated !== undefined && templated.length > 0 ? "apply-template" : "none";
    return chatRoute === "none" ? undefined : templated;
  }

  async function detokenizeTokens(tokens: readonly number[], signal?: AbortSignal): Promise<string | undefined> {
    if (!canDetokenize) return undefined;
    const body = (await post("/detokenize", { model, tokens }, signal)) as { content?: unknown; prompt?: unknown };
    const text = body?.content ?? body?.prompt;
    return typeof text === "string" ? text : undefined;
  }

  return {
    tokenize: canTokenize,
    detokenize: canDetokenize,
    textPrefix,
    tokenizeText,
    detokenizeTokens,
    tokenizeChat,
  };
}

/**
 * Synchronous stand-in for `tokenize`: the text's UTF-8 bytes. Every token of a byte-level BPE or a
 * SentencePiece model with byte fallback covers at least one byte, so the count is an upper bound of
 * the real token count (up to one more for SentencePiece's leading space); good for context-window
 * checks and price ceilings. The ids are bytes, NOT the model's token ids.
 */
export function byteTokens(text: string): number[] {
  return [...Buffer.from(text, "utf8")];
}

/** Allowance per chat message for the template's role header and end-of-turn tokens. */
export const CHAT_TOKENS_PER_MESSAGE = 16;
/** Allowance per chat for the template's preamble, BOS and assistant prefix. */
export const CHAT_TOKENS_FIXED = 32;

/**
 * Synchronous stand-in for `renderChat`: an upper bound of a chat's prompt length. The bytes of each
 * role and content, plus `CHAT_TOKENS_PER_MESSAGE` per message and `CHAT_TOKENS_FIXED` per chat.
 * Templates that inject a long default system prompt can exceed it. The ids are placeholders (bytes
 * and zeros), NOT the model's token ids.
 */
export function approximateChatTokens(messages: readonly ChatMessage[]): number[] {
  const tokens: number[] = new Array(CHAT_TOKENS_FIXED).fill(0);
  for (const message of messages) {
    tokens.push(...byteTokens(message.role), ...byteTokens(message.content));
    for (let i = 0; i < CHAT_TOKENS_PER_MESSAGE; i++) tokens.push(0);
  }
  return tokens;
}

/** The error the synchronous `detokenize` throws: an upstream's vocabulary is not available offline. */
export function detokenizeUnsupported(): RequestError {
  return new RequestError("This engine cannot detokenize synchronously: the model's vocabulary lives upstream", {
    code: "upstream_unsupported",
    hint: "Send text or chat prompts instead of token ids, or use the engine's detokenizeAsync",
  });
}
