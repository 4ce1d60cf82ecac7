/**
 * The token loop of one generation on a llama.cpp sequence: sample with the request's parameters,
 * stream text chunks, stop on end-of-generation, stop sequences, the token limit or an abort.
 *
 * With a `seedKey` llama.cpp only evaluates: each step reads the next position's highest logits
 * (and the vocabulary's total weight) and the Verity seeded sampler picks the token. The prompt is
 * prefilled in the context's batch size, then one token per evaluation, as llama.cpp's own loop does.
 */
import type { ControlledEvaluateInputItem, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import type { FinishReason, GenerateChunk, GenerateResult, Sampling } from "./engine.ts";
import { createOutputTextStream } from "./output-text-stream.ts";
import {
  type Candidate,
  noiseKey,
  SEEDED_CANDIDATES,
  type SeededSampling,
  seededSample,
  seedKeyBytes,
} from "./seeded-sampler.ts";

/** How many of the highest logits a seeded step asks llama.cpp for. */
export function seededCandidateCount(sampling: { topK?: number | undefined }, vocabSize: number): number {
  const k = sampling.topK ?? 0;
  return Math.min(vocabSize, k > 0 ? Math.min(k, SEEDED_CANDIDATES) : SEEDED_CANDIDATES);
}

/** Tokens from the seeded sampler on llama.cpp's logits, one evaluation per token. */
async function* seededTokens(options: {
  sequence: LlamaContextSequence;
  promptTokens: readonly number[];
  sampling: SeededSampling;
  vocabSize: number;
}): AsyncGenerator<Token> {
  const { sequence, sampling } = options;
  const includeTop = seededCandidateCount(sampling, options.vocabSize);
  const keyBytes = seedKeyBytes(sampling.seedKey);
  const ask = (token: number): ControlledEvaluateInputItem => [
    token as Token,
    {
      generateNext: {
        logits: { filter: { tokens: [], includeTop } },
        totalLogitWeight: true,
        options: { temperature: 0 },
      },
    },
  ];
  let input: ControlledEvaluateInputItem[] = [
    ...(options.promptTokens.slice(0, -1) as Token[]),
    ask(options.promptTokens.at(-1)!),
  ];
  for (let position = 0; ; position++) {
    const output = await sequence.controlledEvaluate(input);
    const next = output.at(-1)?.next;
    if (!next?.logits) throw new Error(`llama.cpp returned no logits for output position ${position}`);
    const token = seededSample({
      sampling,
      position,
      candidates: [...(next.logits as Map<number, number>)] as Candidate[],
      key: noiseKey(keyBytes, position),
      ...(next.totalLogitWeight === undefined ? {} : { totalLogitWeight: next.totalLogitWeight }),
    });
    yield token as Token;
    input = [ask(token)];
  }
}

export async function generateTokens(options: {
  model: LlamaModel;
  sequence: LlamaContextSequence;
  promptTokens: number[];
  sampling: Sampling;
  vocabSize: number;
  /** Already capped to what fits the context window. */
  maxTokens: number;
  signal?: AbortSignal;
  onChunk?: (chunk: GenerateChunk) => void | Promise<void>;
}): Promise<GenerateResult> {
  const { model, sequence, promptTokens, sampling, maxTokens, signal } = options;
  const outputTokens: number[] = [];
  const textParts: string[] = [];
  let pendingTokens: number[] = [];
  const stream = createOutputTextStream({
    stop: sampling.stop,
    detokenize: (tokens, previous) => model.detokenize(tokens as Token[], false, previous as Token[]),
  });

  async function emit(text: string, force: boolean): Promise<void> {
    if (text === "" && !(force && pendingTokens.length > 0)) return;
    textParts.push(text);
    const chunk = { text, tokens: pendingTokens };
    pendingTokens = [];
    await options.onChunk?.(chunk);
  }

  let finishReason: FinishReason = signal?.aborted ? "abort" : "length";
  if (finishReason !== "abort") {
    await sequence.clearHistory();
    const tokens =
      sampling.seedKey === undefined
        ? sequence.evaluate(promptTokens as Token[], {
            temperature: sampling.temperature,
            topP: sampling.topP,
            topK: sampling.topK ?? 0,
            minP: 0,
            seed: sampling.seed,
            yieldEogToken: true,
          })
        : seededTokens({
            sequence,
            promptTokens,
            vocabSize: options.vocabSize,
            sampling: {
              seedKey: sampling.seedKey,
              temperature: sampling.temperature,
              topP: sampling.topP,
              ...(sampling.topK === undefined ? {} : { topK: sampling.topK }),
            },
          });
    for await (const token of tokens) {
      outputTokens.push(token);
      pendingTokens.push(token);
      if (model.isEogToken(token)) {
        finishReason = "stop";
        break;
      }
      const step = stream.push(token);
      await emit(step.text, false);
      if (step.stopped) {
        finishReason = "stop";
        break;
      }
      if (outputTokens.length >= maxTokens) break;
      if (signal?.aborted) {
        finishReason = "abort";
        break;
      }
    }
  }
  await emit(stream.finish(), true);

  return {
    promptTokens,
    outputTokens,
    text: textParts.join(""),
    finishReason,
    usage: { promptTokens: promptTokens.length, completionTokens: outputTokens.length },
  };
}
