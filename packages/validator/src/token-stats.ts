/**
 * Per-token statistics of a claimed output under the reference model, from one teacher-forced
 * rescore. The provider's sampler (llama.cpp order: top-p on the raw distribution, then
 * temperature, then a draw) is reproduced per position, so each claimed token gets its probability
 * under the distribution it was supposedly drawn from.
 */
import type { TokenScore } from "@verity/engine";

export type TokenStat = {
  token: number;
  /** Rank under the raw reference distribution (1 = most likely; 101 = below the exact range). */
  rank: number;
  /** Raw reference log-probability of the claimed token. */
  logprob: number;
  /** Raw log-probability gap between the most likely token and the claimed one (≥ 0). */
  gap: number;
  /** Raw probability mass of the tokens the reference ranks strictly above the claimed one. */
  massAbove: number;
  /**
   * Log-probability of the claimed token under the sampling distribution (nucleus at `topP`,
   * tempered at `temperature`); `null` when the token lies outside the nucleus. At temperature 0:
   * 0 for rank 1, else null.
   */
  sampledLogprob: number | null;
  /** Expected log-probability E_q[log q] of a token drawn from the sampling distribution (−entropy). */
  expectedLogprob: number;
  /** Variance of log q under q (for the log-likelihood z statistic). */
  variance: number;
  /** Tempered sampling mass of tokens ranked strictly above the claimed one (0 for rank 1). */
  sampledMassAbove: number;
  /** Σ q³ over the sampling distribution (the mid-PIT variance is (1 − Σq³) / 12). */
  cubeSum: number;
  /** Seed-synced rescore only: the token's DiFR margin in logit units (0 = the reference draws it too). */
  seededMargin?: number;
};

/** The sampling parameters the verdict needs. */
export type SamplingClaim = { temperature: number; topP: number };

/**
 * `scores` must come from a rescore with `topK` large enough to cover the nucleus (the whole
 * vocabulary on small models; the computation uses what it gets otherwise).
 */
export function tokenStats(scores: readonly TokenScore[], sampling: SamplingClaim): TokenStat[] {
  return scores.map((s) => {
    const stat = statFor(s, sampling);
    if (s.seeded) stat.seededMargin = s.seeded.margin;
    return stat;
  });
}

function statFor(s: TokenScore, sampling: SamplingClaim): TokenStat {
  const top = s.top ?? [];
  const topLogprob = top[0]?.logprob ?? s.logprob;
  let massAbove = 0;
  for (const t of top) {
    if (t.logprob > s.logprob) massAbove += Math.exp(t.logprob);
    else break;
  }
  if (s.rank > top.length && top.length > 0) {
    // The claimed token is below the list: everything listed is above it.
    massAbove = 0;
    for (const t of top) massAbove += Math.exp(t.logprob);
  }
  const base = {
    token: s.token,
    rank: s.rank,
    logprob: s.logprob,
    gap: Math.max(0, topLogprob - s.logprob),
    massAbove,
  };
  if (sampling.temperature === 0) {
    const greedy = s.rank === 1;
    return {
      ...base,
      sampledLogprob: greedy ? 0 : null,
      expectedLogprob: 0,
      variance: 0,
      sampledMassAbove: greedy ? 0 : 1,
      cubeSum: 1,
    };
  }
  // Nucleus: the shortest prefix of the sorted distribution whose mass reaches topP (at least one token).
  const nucleus: { token: number; logprob: number }[] = [];
  let cumulative = 0;
  for (const t of top) {
    nucleus.push(t);
    cumulative += Math.exp(t.logprob);
    if (cumulative >= sampling.topP) break;
  }
  if (nucleus.length === 0) nucleus.push({ token: s.token, logprob: s.logprob });
  const invT = 1 / sampling.temperature;
  const maxScaled = (nucleus[0]?.logprob ?? 0) * invT;
  let z = 0;
  for (const t of nucleus) z += Math.exp(t.logprob * invT - maxScaled);
  const logZ = maxScaled + Math.log(z);
  let expected = 0;
  let second = 0;
  let claimed: number | null = null;
  let sampledMassAbove = 0;
  let cubeSum = 0;
  for (const t of nucleus) {
    const lq = t.logprob * invT - logZ;
    const q = Math.exp(lq);
    cubeSum += q * q * q;
    expected += q * lq;
    second += q * lq * lq;
    if (t.token === s.token) claimed = lq;
    else if (t.logprob > s.logprob) sampledMassAbove += q;
  }
  if (claimed === null) sampledMassAbove = 1;
  return {
    ...base,
    sampledLogprob: claimed,
    expectedLogprob: expected,
    variance: Math.max(0, second - expected * expected),
    sampledMassAbove,
    cubeSum,
  };
}
