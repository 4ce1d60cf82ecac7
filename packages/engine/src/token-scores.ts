/**
 * Scores one token from what llama.cpp reports for a position: the token's logit, the highest
 * logits (sorted) and the total weight Σ exp(logit − max). Asking llama.cpp for these instead of the
 * full logit vector keeps rescoring fast on large vocabularies; the price is that ranks are exact
 * only up to `RANK_LIMIT`.
 */
import type { TokenScore } from "./engine.ts";

/** Ranks are exact up to this; a token ranked lower reports `RANK_LIMIT + 1`. */
export const RANK_LIMIT = 100;

export type PositionLogits = {
  /** The scored token's logit. */
  logit: number;
  /** The highest logits, highest first (at least `min(RANK_LIMIT, vocabulary)` entries, or all). */
  top: readonly (readonly [token: number, logit: number])[];
  /** Σ exp(logit − max logit) over the vocabulary. */
  totalLogitWeight: number;
};

export function scoreToken(options: { token: number; position: PositionLogits; topK?: number }): TokenScore {
  const { logit, top, totalLogitWeight } = options.position;
  const max = top[0]?.[1] ?? logit;
  const logZ = max + Math.log(totalLogitWeight);
  const logprob = logit - logZ;
  const limit = Math.min(RANK_LIMIT, top.length);
  let higher = 0;
  for (let i = 0; i < limit; i++) if (top[i]![1] > logit) higher++;
  const score: TokenScore = {
    token: options.token,
    logprob,
    probability: Math.exp(logprob),
    rank: higher < limit || limit === top.length ? higher + 1 : RANK_LIMIT + 1,
  };
  const topK = options.topK ?? 0;
  if (topK > 0) score.top = top.slice(0, topK).map(([token, l]) => ({ token, logprob: l - logZ }));
  return score;
}
