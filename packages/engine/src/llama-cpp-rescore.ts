/**
 * Teacher forcing on a llama.cpp sequence: one evaluation of prompt + output (all but the last
 * output token), reading at every output position the raw logit of the next output token, the
 * highest logits and the softmax normaliser.
 */
import type { ControlledEvaluateInputItem, LlamaContextSequence, Token } from "node-llama-cpp";
import type { RescoreRequest, RescoreResult } from "./engine.ts";
import { seededCandidateCount } from "./llama-cpp-generate.ts";
import { type Candidate, seededMargin } from "./seeded-sampler.ts";
import { RANK_LIMIT, scoreToken } from "./token-scores.ts";

export async function rescoreTokens(options: {
  sequence: LlamaContextSequence;
  promptTokens: readonly number[];
  outputTokens: readonly number[];
  topK: number;
  seeded?: RescoreRequest["seeded"];
  vocabSize: number;
}): Promise<RescoreResult> {
  const { sequence, promptTokens, outputTokens, topK, seeded } = options;
  if (outputTokens.length === 0) return { scores: [] };
  const tokens = [...promptTokens, ...outputTokens.slice(0, -1)] as Token[];
  const first = promptTokens.length - 1; // logits at position i predict token i + 1
  const includeTop = Math.max(RANK_LIMIT, topK, seeded ? seededCandidateCount(seeded, options.vocabSize) : 0);
  // Greedy selection (temperature 0) leaves the candidates untouched: the logits are the model's raw ones.
  const input: ControlledEvaluateInputItem[] = tokens.map((token, i) =>
    i < first
      ? token
      : [
          token,
          {
            generateNext: {
              logits: { filter: { tokens: [outputTokens[i - first] as Token], includeTop } },
              totalLogitWeight: true,
              options: { temperature: 0 },
            },
          },
        ],
  );
  await sequence.clearHistory();
  const output = await sequence.controlledEvaluate(input);
  await sequence.clearHistory();
  const scores = outputTokens.map((token, k) => {
    const next = output[first + k]?.next;
    const logit = next?.logits?.get(token as Token);
    if (!next?.logits || logit === undefined || next.totalLogitWeight === undefined) {
      throw new Error(`llama.cpp returned no logits for output position ${k}`);
    }
    const top = [...next.logits].slice(0, includeTop);
    const score = scoreToken({ token, position: { logit, top, totalLogitWeight: next.totalLogitWeight }, topK });
    if (seeded) {
      // The same candidates a seeded generation step sees: the top logits (the emitted token may be extra).
      const candidates = top.slice(0, seededCandidateCount(seeded, options.vocabSize)) as Candidate[];
      score.seeded = seededMargin({
        sampling: seeded,
        position: k,
        candidates,
        totalLogitWeight: next.totalLogitWeight,
        token,
        tokenLogit: logit,
      });
    }
    return score;
  });
  return { scores };
}
