/**
 * Pooled evidence per provider: Wald's sequential probability ratio test over a provider's audits.
 *
 * Mode `flips` (seed-synced audits): every emitted token is a Bernoulli trial, "flipped" when the
 * seeded replay on the reference model would have sampled another token by more than the margin
 * tolerance (`AuditStats.seeded.flips`). H0: the provider serves the model, flips are numerical
 * noise at rate ≤ p0. H1: it serves a substitute, flips at rate ≥ p1. Mode `audits` (any audit):
 * every audit is one trial, failed or passed, with H0 rate p0 (false positives per honest audit)
 * and H1 rate p1 (detection per audit of the substitute).
 *
 * Audit i adds its log-likelihood ratio to S; with A = ln((1 − β)/α) and B = ln(β/(1 − α)), the
 * test decides `substitute` at the first S ≥ A and `honest` at the first S ≤ B (Wald 1945: the
 * error rates are then at most α/(1 − β) and β/(1 − α), and α + β overall). A provider's record
 * is a sequence of such tests ("epochs"): after `honest` the next audit starts a new one.
 *
 * The decision depends only on the ordered list of audit outcomes, each of which a committee
 * member recomputes from the published transcript, so it is reproducible by anyone.
 */

/** The seeded DiFR summary of one audit (`AuditStats.seeded`). */
export type SeededSummary = { tokens: number; flips: number; marginSum: number; maxMargin: number };

export type SprtMode = "flips" | "audits";

export type SprtParams = {
  version: 1;
  mode: SprtMode;
  /** H0 rate: flips per token (flips mode) or failures per audit (audits mode) of an honest provider. */
  p0: number;
  /** H1 rate of a substitute (same unit). */
  p1: number;
  /** Bound on wrongly deciding `substitute` against an honest provider (false accusation). */
  alpha: number;
  /** Bound on deciding `honest` for a substitute (missed substitute). */
  beta: number;
  /** Most audits one pooled dispute may carry (each costs a committee member one re-audit). */
  maxAudits: number;
};

/**
 * Defaults: p0 is the honest per-token flip rate's 95 % upper bound rounded up (calibration.json,
 * `seeded.flipRate`), p1 the smallest substitute flip rate the test must catch (8-bit), α = 10⁻³,
 * β = 10⁻².
 */
export const DEFAULT_SPRT: SprtParams = {
  version: 1,
  mode: "flips",
  p0: 1e-3,
  p1: 1e-2,
  alpha: 1e-3,
  beta: 1e-2,
  maxAudits: 32,
};

/** One audit as the test sees it: its id (the receipt digest) and its outcome. */
export type PooledAudit = { id: `0x${string}`; tokens: number; flips: number; failed: boolean };

export type SprtDecision = "substitute" | "honest" | "continue";

/** Why a parameter set is unusable, or null. */
export function sprtParamsProblem(p: SprtParams): string | null {
  const rate = (x: number) => Number.isFinite(x) && x > 0 && x < 1;
  if (p.version !== 1) return "version must be 1";
  if (p.mode !== "flips" && p.mode !== "audits") return "mode must be flips or audits";
  if (!rate(p.p0) || !rate(p.p1) || p.p1 <= p.p0) return "need 0 < p0 < p1 < 1";
  if (!rate(p.alpha) || !rate(p.beta) || p.alpha + p.beta >= 1) return "need 0 < α, β and α + β < 1";
  if (!Number.isInteger(p.maxAudits) || p.maxAudits < 1 || p.maxAudits > 1024) return "maxAudits must be 1…1024";
  return null;
}

/** Wald's bounds: decide `substitute` at S ≥ upper, `honest` at S ≤ lower. */
export function sprtBounds(p: Pick<SprtParams, "alpha" | "beta">): { upper: number; lower: number } {
  return { upper: Math.log((1 - p.beta) / p.alpha), lower: Math.log(p.beta / (1 - p.alpha)) };
}

/** Log-likelihood ratio ln P(outcome | H1) / P(outcome | H0) of one audit. */
export function auditLlr(p: SprtParams, audit: Pick<PooledAudit, "tokens" | "flips" | "failed">): number {
  const hit = Math.log(p.p1 / p.p0);
  const miss = Math.log((1 - p.p1) / (1 - p.p0));
  if (p.mode === "audits") return audit.failed ? hit : miss;
  const flips = Math.min(Math.max(audit.flips, 0), audit.tokens);
  return flips * hit + (audit.tokens - flips) * miss;
}

export type SprtResult = {
  decision: SprtDecision;
  /** S after the last audit used. */
  llr: number;
  /** Audits used (the test stops at the first crossing; later ones are ignored). */
  used: number;
  upper: number;
  lower: number;
};

/** One Wald test over `audits` in the given order, stopping at the first crossing. */
export function runSprt(args: { params: SprtParams; audits: readonly Omit<PooledAudit, "id">[] }): SprtResult {
  const { upper, lower } = sprtBounds(args.params);
  let llr = 0;
  let used = 0;
  for (const audit of args.audits) {
    llr += auditLlr(args.params, audit);
    used++;
    if (llr >= upper) return { decision: "substitute", llr, used, upper, lower };
    if (llr <= lower) return { decision: "honest", llr, used, upper, lower };
  }
  return { decision: "continue", llr, used, upper, lower };
}

export type PooledSegment = { start: number; ids: `0x${string}`[]; llr: number; decision: SprtDecision };

export type PooledState = {
  params: SprtParams;
  /** Audits seen (in order). */
  audits: number;
  /** Completed tests that decided `honest`. */
  honestEpochs: number;
  /** Completed tests that decided `substitute`: each names the audits of one pooled dispute. */
  substitute: PooledSegment[];
  /** The test under way. */
  current: PooledSegment;
  upper: number;
  lower: number;
};

/**
 * A provider's pooled record: consecutive tests over its audits (oldest first), a new one after
 * each decision. Each test that decided `substitute` names the audits that make one pooled dispute.
 */
export function pooledState(args: { params: SprtParams; audits: readonly PooledAudit[] }): PooledState {
  const { upper, lower } = sprtBounds(args.params);
  let honestEpochs = 0;
  const substitute: PooledSegment[] = [];
  let current: PooledSegment = { start: 0, ids: [], llr: 0, decision: "continue" };
  args.audits.forEach((audit, i) => {
    current.ids.push(audit.id);
    current.llr += auditLlr(args.params, audit);
    if (current.llr >= upper || current.llr <= lower) {
      if (current.llr >= upper) substitute.push({ ...current, decision: "substitute" });
      else honestEpochs++;
      current = { start: i + 1, ids: [], llr: 0, decision: "continue" };
    }
  });
  return { params: args.params, audits: args.audits.length, honestEpochs, substitute, current, upper, lower };
}

/**
 * The pooled test's outcome of one audit from its verdict: seed-synced audits give their token and
 * flip counts; `failed` is the verdict (a transcript that does not match its receipt is no evidence
 * and is never pooled — callers skip it). Null when the mode needs a seeded summary the audit lacks.
 */
export function pooledOutcome(args: {
  id: `0x${string}`;
  mode: SprtMode;
  pass: boolean;
  seeded?: SeededSummary | undefined;
}): PooledAudit | null {
  if (args.mode === "flips") {
    const s = args.seeded;
    if (!s || !Number.isInteger(s.tokens) || !Number.isInteger(s.flips) || s.tokens < 0) return null;
    return { id: args.id, tokens: s.tokens, flips: s.flips, failed: !args.pass };
  }
  return { id: args.id, tokens: args.seeded?.tokens ?? 0, flips: args.seeded?.flips ?? 0, failed: !args.pass };
}

/**
 * Wald's approximations of the expected number of audits to a decision, when every audit has the
 * same number of tokens: E[N] ≈ (L·A + (1 − L)·B) / E[llr], with L = P(decide substitute).
 */
export function expectedAudits(args: { params: SprtParams; rate: number; tokens: number; decideSubstitute: number }) {
  const { params: p, rate } = args;
  const { upper, lower } = sprtBounds(p);
  const hit = Math.log(p.p1 / p.p0);
  const miss = Math.log((1 - p.p1) / (1 - p.p0));
  const mean = p.mode === "audits" ? rate * hit + (1 - rate) * miss : args.tokens * (rate * hit + (1 - rate) * miss);
  const l = args.decideSubstitute;
  return (l * upper + (1 - l) * lower) / mean;
}

/** The seeded summary of a verdict's stats (`AuditStats.seeded`), when the audit was seed-synced. */
export function seededOf(stats: unknown): SeededSummary | undefined {
  const s = (stats as { seeded?: unknown } | null)?.seeded as Partial<SeededSummary> | null | undefined;
  if (!s || typeof s !== "object") return undefined;
  const { tokens, flips, marginSum, maxMargin } = s;
  if (!Number.isInteger(tokens) || !Number.isInteger(flips)) return undefined;
  return {
    tokens: tokens as number,
    flips: flips as number,
    marginSum: Number(marginSum ?? 0),
    maxMargin: Number(maxMargin ?? 0),
  };
}
