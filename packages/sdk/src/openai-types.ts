/**
 * The OpenAI request and response shapes the SDK speaks (the subset Verity providers serve), plus
 * the `verity` field providers add: the charge, the new charged total and the signed receipt.
 */
import type { ChatTool, ReceiptJson, ToolChoice } from "@verity/core";

export type TextPart = { type: "text"; text: string };

export type ChatMessage = {
  role: "system" | "developer" | "user" | "assistant";
  content: string | TextPart[];
  name?: string;
};

type SamplingParams = {
  model: string;
  max_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  stream_options?: { include_usage?: boolean } | null;
  n?: 1 | null;
  user?: string | null;
};

export type ChatCompletionCreateParamsBase = SamplingParams & {
  messages: ChatMessage[];
  max_completion_tokens?: number | null;
  /** Functions the model may call (the provider writes them into the system message). */
  tools?: ChatTool[] | null;
  tool_choice?: ToolChoice | null;
};
export type ChatCompletionCreateParamsStreaming = ChatCompletionCreateParamsBase & { stream: true };
export type ChatCompletionCreateParamsNonStreaming = ChatCompletionCreateParamsBase & { stream?: false | null };
export type ChatCompletionCreateParams = ChatCompletionCreateParamsStreaming | ChatCompletionCreateParamsNonStreaming;

export type CompletionCreateParamsBase = SamplingParams & { prompt: string | string[] | number[] };
export type CompletionCreateParamsStreaming = CompletionCreateParamsBase & { stream: true };
export type CompletionCreateParamsNonStreaming = CompletionCreateParamsBase & { stream?: false | null };
export type CompletionCreateParams = CompletionCreateParamsStreaming | CompletionCreateParamsNonStreaming;

export type CompletionUsage = { prompt_tokens: number; completion_tokens: number; total_tokens: number };

export type FinishReason = "stop" | "length";

/** What a provider attaches to a paid response (body `verity` field or the trailing stream chunk). */
export type VerityPayment = {
  requestId: `0x${string}`;
  /** This request's charge, in token base units (decimal string). */
  charge: string;
  /** The channel's charged total after this request (decimal string). */
  charged: string;
  receipt: ReceiptJson;
  signature: `0x${string}`;
  signer: `0x${string}`;
  /** Added by the SDK after the receipt verified: which provider and channel served the request. */
  agentId?: string;
  channelId?: `0x${string}`;
};

export type ChatCompletion = {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: "assistant"; content: string | null };
    logprobs: null;
    finish_reason: FinishReason;
  }[];
  usage: CompletionUsage;
  verity: VerityPayment;
};

export type ChatCompletionChunk = {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: "assistant"; content?: string };
    logprobs: null;
    finish_reason: FinishReason | null;
  }[];
  /** Only on the trailing chunk (whose `choices` is empty). */
  usage?: CompletionUsage | null;
  verity?: VerityPayment;
};

export type Completion = {
  id: string;
  object: "text_completion";
  created: number;
  model: string;
  choices: { index: number; text: string; logprobs: null; finish_reason: FinishReason }[];
  usage: CompletionUsage;
  verity: VerityPayment;
};

export type CompletionChunk = {
  id: string;
  object: "text_completion";
  created: number;
  model: string;
  choices: { index: number; text: string; logprobs: null; finish_reason: FinishReason | null }[];
  usage?: CompletionUsage | null;
  verity?: VerityPayment;
};

/** Per-request routing options (the second argument of `create`). */
export type RequestOptions = {
  /** Send to this provider agent instead of the cheapest healthy offer. */
  agentId?: bigint;
  /** Refuse offers above these prices (base units per million tokens). */
  maxPrice?: PriceLimit;
  /** Only offers whose provider announces this quantization for the model (from its manifest), e.g. "bf16". */
  quantization?: string;
  signal?: AbortSignal;
  /**
   * The voucher leaves only once this resolves (as well as its reservation being durable): a
   * caller's own precondition, e.g. a gateway's payment hold committing while the request is
   * routed, reserved and signed. If it rejects, the reservation is released (nothing was sent)
   * and the request fails with its error.
   */
  ready?: Promise<unknown>;
};

export type PriceLimit = { inputPerMTok?: bigint; outputPerMTok?: bigint };

/** An async iterable of chunks, like the `openai` client's `Stream`; `controller` aborts it. */
export type ChunkStream<T> = AsyncIterable<T> & { controller: AbortController };
