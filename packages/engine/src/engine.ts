/**
 * The inference engine a provider serves and a validator re-checks with. One engine = one loaded
 * model. Implementations: `createLlamaCppEngine` (llama.cpp through node-llama-cpp).
 */
import { z } from "zod";

/** 0x-prefixed 32-byte hex (sha256), suitable for registering a model on-chain. */
export type Hex32 = `0x${string}`;

export type ModelIdentity = {
  /** sha256 of the GGUF's tensor infos (names, shapes, types, offsets) followed by its tensor data. */
  weightsHash: Hex32;
  /** sha256 of the canonical JSON of every `tokenizer.*` metadata entry (tokens, merges, special ids, chat template). */
  tokenizerHash: Hex32;
};

export const chatMessageSchema = z
  .object({ role: z.enum(["system", "user", "assistant"]), content: z.string() })
  .strict();

export type ChatMessage = z.output<typeof chatMessageSchema>;

/** A chat rendered with the model's template (generation prompt added), or raw text (BOS prepended when the model wants one). */
export const promptSchema = z.union([
  z
    .object({
      messages: z.array(chatMessageSchema).min(1),
      /** Continue the final assistant message instead of starting a new turn (vLLM's `continue_final_message`). */
      continueFinal: z.boolean().optional(),
    })
    .strict(),
  z.object({ text: z.string() }).strict(),
]);

export type Prompt = z.input<typeof promptSchema>;

/** Highest seed llama.cpp treats as a seed (0xFFFFFFFF means "random" there). */
export const MAX_SEED = 0xfffffffe;

/** A seed-synced request's seed key: 0x-prefixed 32 bytes of hex. */
export const seedKeySchema = z.string().regex(/^0x[0-9a-f]{64}$/i);

/**
 * Sampling parameters. Temperature 0 is greedy decoding. Top-k, top-p then temperature are applied
 * in llama.cpp's order (top-k 0 = no cut). A fixed seed makes sampling reproducible on one machine.
 * With `seedKey` the draw is the Verity seeded sampler (seeded-sampler.ts: Gumbel-max with noise
 * keyed by the seed key, position and token), which a validator replays on the reference model;
 * `seed` is then unused. Engines that cannot sample themselves (an OpenAI-compatible upstream)
 * reject a `seedKey`.
 */
export const samplingSchema = z
  .object({
    temperature: z.number().min(0).max(2).default(1),
    topP: z.number().gt(0).max(1).default(1),
    topK: z.number().int().min(0).optional(),
    seed: z.number().int().min(0).max(MAX_SEED).default(0),
    seedKey: seedKeySchema.optional(),
    maxTokens: z.number().int().min(1),
    /** Generation ends before the first occurrence of any of these strings (excluded from the text). */
    stop: z.array(z.string().min(1)).max(16).default([]),
  })
  .strict();

export type SamplingInput = z.input<typeof samplingSchema>;
export type Sampling = z.output<typeof samplingSchema>;

/** Part of the output as it is produced. Concatenating every chunk gives the result's `text` and `outputTokens`. */
export type GenerateChunk = { text: string; tokens: number[] };

export type GenerateRequest = {
  prompt: Prompt;
  /**
   * `prompt` already rendered by this same engine (`renderChat` for a chat): the engine evaluates
   * these tokens instead of rendering the chat a second time. Only for a caller that rendered it
   * itself (a provider counting prompt tokens for the price ceiling); engines may ignore it.
   */
  renderedPrompt?: readonly number[];
  sampling: SamplingInput;
  /** Aborting stops generation before the next token; the result then has `finishReason: "abort"`. */
  signal?: AbortSignal;
  /** Called for every chunk; generation waits for a returned promise (backpressure for streaming). */
  onChunk?: (chunk: GenerateChunk) => void | Promise<void>;
};

/**
 * - `stop`: the model emitted an end-of-generation token or the text reached a stop sequence.
 * - `length`: `maxTokens` (or the end of the context window) was reached.
 * - `abort`: the request's signal was aborted.
 */
export type FinishReason = "stop" | "length" | "abort";

export type GenerateResult = {
  promptTokens: number[];
  /** Every sampled token, including an end-of-generation token and the tokens that completed a stop sequence. */
  outputTokens: number[];
  /** Output text without end-of-generation tokens and without the matched stop sequence. */
  text: string;
  finishReason: FinishReason;
  usage: { promptTokens: number; completionTokens: number };
};

export type RescoreRequest = {
  promptTokens: readonly number[];
  outputTokens: readonly number[];
  /** Also return the `topK` most likely tokens at each position (default 0). */
  topK?: number;
  /**
   * Replay the seeded sampler a seed-synced generation used: each score then carries the DiFR
   * margin of its token (`TokenScore.seeded`). `topK` here is the sampling cut, not the list above.
   */
  seeded?: { seedKey: string; temperature: number; topP: number; topK?: number };
};

export type TokenScore = {
  token: number;
  /** Natural-log probability of `token` under the model's raw distribution (no temperature, no top-p). */
  logprob: number;
  probability: number;
  /** 1 + the number of tokens the model found strictly more likely; exact up to 100, lower ranks report 101. */
  rank: number;
  top?: { token: number; logprob: number }[];
  /**
   * With `RescoreRequest.seeded`: how far the token's seeded score is below the best score the
   * reference's own seeded draw would reach at this position, in logit units (0 = the reference
   * draws the same token), and whether the token is among the reference's allowed candidates.
   */
  seeded?: { margin: number; inAllowed: boolean };
};

export type RescoreResult = { scores: TokenScore[] };

export type Engine = {
  /** Model name (GGUF `general.name`, or the file name). */
  readonly name: string;
  readonly identity: ModelIdentity;
  /** Tokens the context window holds (prompt + output). */
  readonly contextSize: number;
  readonly vocabSize: number;
  /** Plain text to tokens: no BOS, control-token text is treated as text. */
  tokenize(text: string): number[];
  /** Tokens to text; control tokens render as nothing. */
  detokenize(tokens: readonly number[]): string;
  /** Prompt tokens of a chat, rendered with the model's chat template, ending with the assistant prefix. */
  renderChat(messages: readonly ChatMessage[], options?: { continueFinal?: boolean }): number[];
  generate(request: GenerateRequest): Promise<GenerateResult>;
  /**
   * Teacher forcing: one evaluation of prompt + output, returning each output token's probability
   * and rank under the model. A validator compares these with what the claimed model would produce.
   */
  rescore(request: RescoreRequest): Promise<RescoreResult>;
  /** Frees the model; the engine cannot be used afterwards. */
  close(): Promise<void>;
};
