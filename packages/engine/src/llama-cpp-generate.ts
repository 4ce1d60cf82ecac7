/**
 * The token loop of one generation on a llama.cpp sequence: sample with the request's parameters,
 * stream text chunks, stop on end-of-generation, stop sequences, the token limit or an abort.
 */
import type { LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import type { FinishReason, GenerateChunk, GenerateResult, Sampling } from "./engine.ts";
import { createOutputTextStream } from "./output-text-stream.ts";

export async function generateTokens(options: {
  model: LlamaModel;
  sequence: LlamaContextSequence;
  promptTokens: number[];
  sampling: Sampling;
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
    const tokens = sequence.evaluate(promptTokens as Token[], {
      temperature: sampling.temperature,
      topP: sampling.topP,
      topK: 0,
      minP: 0,
      seed: sampling.seed,
      yieldEogToken: true,
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
