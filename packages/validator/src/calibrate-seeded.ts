/**
 * Seed-synced (DiFR) figures of a calibration run: the honest margin distribution per provider
 * configuration, substitutes' per-token flip rates, and how many audits of one provider reach a
 * 95 % chance of catching each substitute (P(caught within k audits) = 1 − (1 − p)^k for a per-audit
 * detection rate p).
 */
import { seededStats } from "./audit-verdict.ts";
import { BUDGETS, denseMargins, HONEST_CONFIGS, type JobResult } from "./calibrate.ts";
import type { Thresholds } from "./thresholds.ts";

const round = (x: number, digits = 4) => Math.round(x * 10 ** digits) / 10 ** digits;

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Honest DiFR margins per provider configuration (the validator always rescores at batch 512, 1 thread). */
export function honestMargins(results: readonly JobResult[]) {
  const out: Record<string, unknown> = {};
  for (const [index, config] of HONEST_CONFIGS.entries()) {
    const rs = results.filter((r) => r.kind === "honest" && r.config === index);
    const tokens = rs.reduce((a, r) => a + r.tokens, 0);
    const positive = rs.flatMap((r) => r.seededMargins.map(([, m]) => m)).sort((a, b) => a - b);
    out[`batch${config.batchSize}/threads${config.threads}`] = {
      transcripts: rs.length,
      tokens,
      positiveMargins: positive.length,
      positiveShare: tokens === 0 ? 0 : round(positive.length / tokens, 6),
      medianPositive: round(quantile(positive, 0.5), 5),
      p99Positive: round(quantile(positive, 0.99), 5),
      max: round(positive.at(-1) ?? 0, 5),
    };
  }
  return out;
}

/**
 * Per kind: tokens, flips (margin above the tolerance) and the per-token flip rate; per budget the
 * per-audit detection p of the seeded rule alone and the audits k for P(caught) ≥ 0.95.
 */
export function seededDetection(results: readonly JobResult[], thresholds: Thresholds) {
  const tolerance = thresholds.seeded.marginTolerance;
  const out: Record<string, unknown> = {};
  const kinds = [...new Set(results.map((r) => r.kind))];
  for (const kind of kinds) {
    const rs = results.filter((r) => r.kind === kind);
    let tokens = 0;
    let flips = 0;
    for (const r of rs) {
      const s = seededStats(denseMargins(r), tolerance);
      tokens += s.tokens;
      flips += s.flips;
    }
    const perBudget: Record<string, unknown> = {};
    for (const budget of BUDGETS) {
      const caught = rs.filter(
        (r) => seededStats(denseMargins(r), tolerance, budget).flips > thresholds.seeded.maxFlips,
      ).length;
      const p = rs.length === 0 ? 0 : caught / rs.length;
      perBudget[budget] = {
        perAudit: round(p, 5),
        auditsFor95: p >= 1 ? 1 : p <= 0 ? null : Math.ceil(Math.log(0.05) / Math.log(1 - p)),
      };
    }
    out[kind] = {
      transcripts: rs.length,
      meanTokens: round(tokens / Math.max(1, rs.length), 1),
      tokens,
      flips,
      flipsPerToken: tokens === 0 ? 0 : round(flips / tokens, 5),
      // Token-level extrapolation (flips treated as independent across tokens and requests).
      caughtWithin300Tokens: round(1 - (1 - flips / Math.max(1, tokens)) ** 300, 5),
      caughtWithin1000Tokens: round(1 - (1 - flips / Math.max(1, tokens)) ** 1000, 5),
      byBudget: perBudget,
    };
  }
  return out;
}
