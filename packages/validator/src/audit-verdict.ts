/**
 * The audit verdict: one teacher-forced rescore of a claimed transcript on the claimed model,
 * per-token statistics under the provider's sampling distribution, and threshold rules in the
 * spirit of production verifiers (Targon's rank rules, a greedy rank-1 rule, top-p nucleus
 * membership, a log-likelihood z statistic for sampled outputs, EOS plausibility), plus the
 * receipt's hash commitments. Seed-synced outputs also get the DiFR check: the rescore replays the
 * Verity seeded sampler with the request's seed key on the reference logits, and every emitted
 * token must be the reference's own draw up to a numerical tolerance (`seeded_token_mismatch`);
 * for those that check alone decides (the distributional rules judge only unseeded outputs).
 */
import { hashParams, hashTokens, type ReceiptParams } from "@verity/core";
import type { Engine } from "@verity/engine";
import { defaultThresholds, type Thresholds } from "./thresholds.ts";
import { type SamplingClaim, type TokenStat, tokenStats } from "./token-stats.ts";

export type VerdictReason =
  | "receipt_mismatch"
  | "greedy_not_top1"
  | "token_rank_too_low"
  | "too_many_low_rank_tokens"
  | "outside_nucleus"
  | "low_agreement"
  | "likelihood_outlier"
  | "implausible_eos"
  | "truncated_output"
  | "closer_to_substitute"
  | "seeded_token_mismatch"
  | "retrieval_mismatch";

/** Rank at or below which a token counts as low-rank in greedy outputs (Targon: 25). */
export const LOW_RANK = 25;
/** Sampling probability below which a token counts as improbable in sampled outputs. */
export const LOW_PROB_LOGPROB = Math.log(1e-3);

export type AuditStats = {
  tokens: number;
  regime: "greedy" | "sampled";
  /** Mean of 1 − (sampling mass ranked above the claimed token): 1 for perfect greedy agreement. */
  meanAgreement: number;
  maxRank: number;
  lowRankTokens: number;
  nonTop1Share: number;
  /** Greedy: raw logprob gaps of the non-rank-1 tokens (largest first). */
  nonTop1Gaps: number[];
  /** Sampled: by how much mass each out-of-nucleus token missed the nucleus (largest first). */
  nucleusExcess: number[];
  minSampledLogprob: number | null;
  lowProbTokens: number;
  /** Σ(log q − E[log q]) / √ΣVar over in-nucleus tokens; 0 when undefined. */
  z: number;
  /**
   * Rank (mid-PIT) z statistic: u = sampling mass above the claimed token + half its own; honest
   * draws have E[u] = 1/2 exactly and Var[u] = (1 − Σq³)/12, so Σ(u − 1/2)/√ΣVar is ≈ N(0, 1).
   * Substitutes pick tokens the reference ranks lower: large positive values.
   */
  pitZ: number;
  /** Mean of (log q − E[log q]) per in-nucleus token (a per-token log-likelihood-ratio proxy). */
  meanLogprobExcess: number;
  /** The final token when it is a control (end-of-generation) token: its sampling log-probability. */
  eos: { token: number; sampledLogprob: number | null; rank: number } | null;
  /**
   * Per suspect model (by name): log-likelihood ratio Σ log q_ref(x) − log q_suspect(x) of the
   * claimed tokens under the two sampling distributions. Under honest sampling P(LLR < −c) ≤ e^−c
   * (Markov on the likelihood ratio), whatever the length; a substitute drives it negative.
   */
  suspectLlr: Record<string, number>;
  /**
   * Seed-synced outputs (the rescore replayed the seeded sampler): DiFR summary over the tokens.
   * `flips` = tokens whose margin exceeds the tolerance, `marginSum` = Σ min(margin, 1) (clipped so
   * one token cannot dominate a pooled sum), `maxMargin` = the largest margin, all in logit units.
   * Absent when the rescore had no seeded margins (no seed key, or an engine that cannot replay):
   * then no seeded check runs and nothing fails on it.
   */
  seeded?: SeededStats;
};

export type SeededStats = { tokens: number; flips: number; marginSum: number; maxMargin: number };

/** Per-token clip of `SeededStats.marginSum`. */
export const SEEDED_MARGIN_CLIP = 1;

/** DiFR summary of the first `budget` margins (see `AuditStats.seeded`). */
export function seededStats(margins: readonly number[], tolerance: number, budget?: number): SeededStats {
  const n = Math.min(margins.length, budget ?? margins.length);
  let flips = 0;
  let marginSum = 0;
  let maxMargin = 0;
  for (let i = 0; i < n; i++) {
    const m = margins[i]!;
    if (m > tolerance) flips++;
    marginSum += Math.min(m, SEEDED_MARGIN_CLIP);
    maxMargin = Math.max(maxMargin, m);
  }
  return { tokens: n, flips, marginSum, maxMargin };
}

/** Log-probability standing in for "outside the sampling distribution" in likelihood ratios. */
export const LOG_FLOOR = -30;

/** Σ over the first `budget` tokens of log q_ref − log q_suspect (see `AuditStats.suspectLlr`). */
export function suspectLlr(reference: readonly TokenStat[], suspect: readonly TokenStat[], budget?: number): number {
  const n = Math.min(reference.length, suspect.length, budget ?? reference.length);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += (reference[i]!.sampledLogprob ?? LOG_FLOOR) - (suspect[i]!.sampledLogprob ?? LOG_FLOOR);
  }
  return sum;
}

export type Verdict = {
  pass: boolean;
  /** Mean agreement in [0, 1] (1 = every token is what the reference would most expect). */
  score: number;
  reasons: VerdictReason[];
  stats: AuditStats;
  /** Human-readable detail per failing rule. */
  details: string[];
};

/**
 * Aggregates per-token statistics of the first `budget` tokens. `controlTokens` marks
 * end-of-generation candidates (tokens that detokenize to nothing); only the final token is checked.
 */
export function summarize(
  stats: readonly TokenStat[],
  options: {
    sampling: SamplingClaim;
    budget?: number;
    controlTokens?: ReadonlySet<number>;
    /** Per-token statistics of the same transcript under suspect models (by name). */
    suspects?: ReadonlyMap<string, readonly TokenStat[]>;
    /** Margin above which a seeded token is a flip (default: the committed calibration's). */
    seededTolerance?: number;
  },
): AuditStats {
  const n = Math.min(stats.length, options.budget ?? stats.length);
  const used = stats.slice(0, n);
  const greedy = options.sampling.temperature === 0;
  let agreement = 0;
  let maxRank = 0;
  let lowRank = 0;
  let nonTop1 = 0;
  const gaps: number[] = [];
  const excess: number[] = [];
  let minLq: number | null = null;
  let lowProb = 0;
  let sumDev = 0;
  let sumVar = 0;
  let inNucleus = 0;
  let pitDev = 0;
  let pitVar = 0;
  for (const s of used) {
    agreement += 1 - s.sampledMassAbove;
    maxRank = Math.max(maxRank, s.rank);
    if (s.rank >= LOW_RANK) lowRank++;
    if (s.rank > 1) {
      nonTop1++;
      if (greedy) gaps.push(s.gap);
    }
    if (greedy) continue;
    if (s.sampledLogprob === null) {
      excess.push(s.massAbove - options.sampling.topP);
      continue;
    }
    inNucleus++;
    pitDev += s.sampledMassAbove + Math.exp(s.sampledLogprob) / 2 - 0.5;
    pitVar += (1 - s.cubeSum) / 12;
    minLq = minLq === null ? s.sampledLogprob : Math.min(minLq, s.sampledLogprob);
    if (s.sampledLogprob < LOW_PROB_LOGPROB) lowProb++;
    sumDev += s.sampledLogprob - s.expectedLogprob;
    sumVar += s.variance;
  }
  const last = used.at(-1);
  const eos =
    last && n === stats.length && options.controlTokens?.has(last.token)
      ? {
          token: last.token,
          sampledLogprob: greedy ? (last.rank === 1 ? 0 : null) : last.sampledLogprob,
          rank: last.rank,
        }
      : null;
  const margins = used.map((s) => s.seededMargin);
  const seeded =
    n > 0 && margins.every((m) => m !== undefined)
      ? seededStats(margins, options.seededTolerance ?? defaultThresholds().seeded.marginTolerance)
      : undefined;
  return {
    ...(seeded ? { seeded } : {}),
    tokens: n,
    regime: greedy ? "greedy" : "sampled",
    meanAgreement: n === 0 ? 1 : agreement / n,
    maxRank,
    lowRankTokens: lowRank,
    nonTop1Share: n === 0 ? 0 : nonTop1 / n,
    nonTop1Gaps: gaps.sort((a, b) => b - a),
    nucleusExcess: excess.sort((a, b) => b - a),
    minSampledLogprob: minLq,
    lowProbTokens: lowProb,
    z: sumVar > 0 ? sumDev / Math.sqrt(sumVar) : 0,
    pitZ: pitVar > 0 ? pitDev / Math.sqrt(pitVar) : 0,
    meanLogprobExcess: inNucleus === 0 ? 0 : sumDev / inNucleus,
    eos,
    suspectLlr: Object.fromEntries(
      [...(options.suspects ?? new Map<string, readonly TokenStat[]>())].map(([name, s]) => [
        name,
        suspectLlr(stats, s, n),
      ]),
    ),
  };
}

/** Applies the threshold rules to aggregated statistics. */
export function judge(stats: AuditStats, thresholds: Thresholds = defaultThresholds()): Verdict {
  const reasons = new Set<VerdictReason>();
  const details: string[] = [];
  const fail = (reason: VerdictReason, detail: string) => {
    reasons.add(reason);
    details.push(detail);
  };
  if (stats.seeded) {
    // A seed-synced replay is the verdict: every emitted token must be the reference's own seeded
    // draw. The distributional rules below answer a weaker question (could the reference have
    // sampled this?) and add false positives without adding detection (calibration.json:
    // `300:seeded-only` honest 0 of 3,750, q4 99.3 %, versus 4 of 3,750 with every rule).
    if (stats.seeded.flips > thresholds.seeded.maxFlips) {
      fail(
        "seeded_token_mismatch",
        `${stats.seeded.flips} of ${stats.seeded.tokens} seeded tokens are not the reference's draw (margin > ${thresholds.seeded.marginTolerance}, largest ${stats.seeded.maxMargin.toFixed(3)})`,
      );
    }
    return { pass: reasons.size === 0, score: stats.meanAgreement, reasons: [...reasons], stats, details };
  }
  if (stats.regime === "greedy") {
    const g = thresholds.greedy;
    const flips = stats.nonTop1Gaps.filter((gap) => gap > g.tieMargin).length;
    if (flips > g.maxFlips)
      fail("greedy_not_top1", `${flips} greedy tokens not rank 1 beyond a ${g.tieMargin}-nat tie`);
    if (stats.nonTop1Share > g.maxNonTop1Share) {
      fail("greedy_not_top1", `${(stats.nonTop1Share * 100).toFixed(1)} % of greedy tokens not rank 1`);
    }
    if (stats.maxRank >= g.maxRank) fail("token_rank_too_low", `a token ranked ${stats.maxRank}`);
    if (stats.lowRankTokens > g.maxLowRankTokens) {
      fail("too_many_low_rank_tokens", `${stats.lowRankTokens} tokens ranked ≥ ${LOW_RANK}`);
    }
  } else {
    const s = thresholds.sampled;
    const outside = stats.nucleusExcess.filter((e) => e > s.nucleusTolerance).length;
    if (outside > s.maxOutsideNucleus) fail("outside_nucleus", `${outside} tokens outside the top-p nucleus`);
    if (stats.minSampledLogprob !== null && stats.minSampledLogprob < s.minTokenLogprob) {
      fail("token_rank_too_low", `a token with sampling logprob ${stats.minSampledLogprob.toFixed(2)}`);
    }
    if (stats.lowProbTokens > s.maxLowProbTokens) {
      fail("too_many_low_rank_tokens", `${stats.lowProbTokens} tokens with sampling probability < 1e-3`);
    }
    if (stats.z < s.zMin || stats.z > s.zMax) fail("likelihood_outlier", `log-likelihood z = ${stats.z.toFixed(2)}`);
    if (stats.meanAgreement < s.minMeanAgreement) {
      fail("low_agreement", `mean agreement ${stats.meanAgreement.toFixed(3)}`);
    }
  }
  for (const [name, llr] of Object.entries(stats.suspectLlr)) {
    if (llr < thresholds.minSuspectLlr) {
      fail("closer_to_substitute", `likelihood ratio favours ${name} by ${(-llr).toFixed(1)} nats`);
    }
  }
  if (stats.eos && (stats.eos.sampledLogprob === null || stats.eos.sampledLogprob < thresholds.minEosLogprob)) {
    fail("implausible_eos", `end of generation with sampling logprob ${stats.eos.sampledLogprob ?? "-inf"}`);
  }
  return { pass: reasons.size === 0, score: stats.meanAgreement, reasons: [...reasons], stats, details };
}

export type AuditTranscript = {
  promptTokens: readonly number[];
  outputTokens: readonly number[];
  /** With `seedKey` (a seed-synced request) the rescore replays the seeded sampler (DiFR check). */
  sampling: ReceiptParams;
};

export type ReceiptCommitments = {
  promptHash: `0x${string}`;
  outputHash: `0x${string}`;
  /** Omitted when the sampling parameters (seed) are not known to the validator. */
  paramsHash?: `0x${string}`;
};

/** Which of the receipt's commitments the transcript does not match (empty = all match). */
export function receiptMismatches(
  transcript: AuditTranscript,
  receipt: ReceiptCommitments,
): ("promptHash" | "outputHash" | "paramsHash")[] {
  const out: ("promptHash" | "outputHash" | "paramsHash")[] = [];
  if (hashTokens(transcript.promptTokens).toLowerCase() !== receipt.promptHash.toLowerCase()) out.push("promptHash");
  if (hashTokens(transcript.outputTokens).toLowerCase() !== receipt.outputHash.toLowerCase()) out.push("outputHash");
  if (
    receipt.paramsHash !== undefined &&
    hashParams(transcript.sampling).toLowerCase() !== receipt.paramsHash.toLowerCase()
  ) {
    out.push("paramsHash");
  }
  return out;
}

/** Tokens of `engine` that render as no text (control tokens: BOS, EOS, chat delimiters). */
export function controlTokensOf(engine: Engine): Set<number> {
  const out = new Set<number>();
  for (let id = 0; id < engine.vocabSize; id++) if (engine.detokenize([id]) === "") out.add(id);
  return out;
}

const controlCache = new WeakMap<Engine, Set<number>>();

/** Rescore depth: the whole vocabulary on small models, else the top 128 (enough for a nucleus in practice). */
export function rescoreTopK(engine: Engine): number {
  return Math.min(engine.vocabSize, engine.vocabSize <= 4096 ? engine.vocabSize : 128);
}

/**
 * Audits one transcript against the claimed model's engine: one rescore, statistics, verdict.
 * With `receipt`, the transcript's hashes must match its commitments (`receipt_mismatch`).
 */
export async function auditTranscript(options: {
  engine: Engine;
  transcript: AuditTranscript;
  receipt?: ReceiptCommitments;
  thresholds?: Thresholds;
  /**
   * Optional likelihood-ratio test against known cheap substitutes of the claimed model (e.g. its
   * 4-bit quantisation, which the validator can build from the registered weights): one more
   * prefill per suspect.
   */
  suspects?: readonly Engine[];
}): Promise<Verdict> {
  const { engine, transcript } = options;
  const thresholds = options.thresholds ?? defaultThresholds();
  let control = controlCache.get(engine);
  if (!control) {
    control = controlTokensOf(engine);
    controlCache.set(engine, control);
  }
  const { seedKey, topK } = transcript.sampling;
  const sampling = { temperature: transcript.sampling.temperature, topP: transcript.sampling.topP };
  const { scores } = await engine.rescore({
    promptTokens: transcript.promptTokens,
    outputTokens: transcript.outputTokens,
    topK: rescoreTopK(engine),
    ...(seedKey === undefined ? {} : { seeded: { seedKey, ...sampling, ...(topK === undefined ? {} : { topK }) } }),
  });
  const suspects = new Map<string, TokenStat[]>();
  for (const suspect of options.suspects ?? []) {
    const rescored = await suspect.rescore({
      promptTokens: transcript.promptTokens,
      outputTokens: transcript.outputTokens,
      topK: rescoreTopK(suspect),
    });
    suspects.set(suspect.name, tokenStats(rescored.scores, sampling));
  }
  const stats = summarize(tokenStats(scores, sampling), {
    sampling,
    controlTokens: control,
    suspects,
    seededTolerance: thresholds.seeded.marginTolerance,
  });
  const verdict = judge(stats, thresholds);
  const extra: { reason: VerdictReason; detail: string }[] = [];
  if (options.receipt) {
    const mismatched = receiptMismatches(transcript, options.receipt);
    if (mismatched.length > 0) {
      extra.push({
        reason: "receipt_mismatch",
        detail: `transcript does not match the receipt's ${mismatched.join(", ")}`,
      });
    }
  }
  const out = transcript.outputTokens;
  const endsWithControl = out.length > 0 && control.has(out.at(-1)!);
  if (!endsWithControl && out.length < transcript.sampling.maxTokens) {
    // An output may end early only at an end-of-generation token or a stop sequence.
    const text = engine.detokenize(out);
    if (!transcript.sampling.stop.some((stop) => text.includes(stop))) {
      extra.push({
        reason: "truncated_output",
        detail: `${out.length} of ${transcript.sampling.maxTokens} tokens without an end-of-generation token or stop sequence`,
      });
    }
  }
  if (extra.length === 0) return verdict;
  const reasons = [...verdict.reasons];
  for (const e of extra) if (!reasons.includes(e.reason)) reasons.push(e.reason);
  return { ...verdict, pass: false, reasons, details: [...verdict.details, ...extra.map((e) => e.detail)] };
}
