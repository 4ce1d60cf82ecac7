/**
 * The economics of cheating under Verity's audit rules, simulated without a chain (seeded, fast):
 * value-weighted audit assignment (`p(charge) = min(1, pBase + charge / alwaysAuditAbove)`, as
 * packages/core/src/audit-assignment.ts draws it), seed-synced audits that count flipped tokens,
 * and the pooled SPRT over a provider's audits (packages/validator/src/sprt.ts), with the slash
 * and the dispute lag. Used by bench/deterrence-model.ts (figures) and docs/DETERRENCE.md.
 *
 * Per-token flip rates stand in for the calibrated ones (calibration.json, seeded audits): a
 * substitute flips a token when the reference's seeded Gumbel-max draw would have picked another
 * token; an honest provider flips only on numerical near-ties.
 */
import { auditLlr, type SprtParams, sprtBounds } from "../packages/validator/src/sprt.ts";

export type Fee = { value: number; weight: number };

export type EconomicsParams = {
  pBase: number;
  /** Charge (TUSD) from which every request is audited. */
  alwaysAuditAbove: number;
  /** Slash per guilty verdict (TUSD), `slashAmount`; the stake bonded caps it. */
  slash: number;
  stake: number;
  /** Tokens per answer (audited in full). */
  tokens: number;
  /** Fee distribution of the provider's requests (TUSD). */
  fees: readonly Fee[];
  /** Saving of a substituted answer as a share of its fee (1 = the substitute costs nothing). */
  savingShare: number;
  /** Requests a caught provider still serves (and substitutes) before the verdict pauses it. */
  disputeLag: number;
  /** Requests per provider in one run. */
  horizon: number;
  sprt: SprtParams;
};

export const DEFAULT_ECONOMICS: Omit<EconomicsParams, "sprt"> = {
  pBase: 0.02,
  alwaysAuditAbove: 1,
  slash: 100,
  stake: 500,
  tokens: 300,
  fees: [
    { value: 0.0004, weight: 0.9 },
    { value: 0.01, weight: 0.09 },
    { value: 2, weight: 0.01 },
  ],
  savingShare: 1,
  disputeLag: 200,
  horizon: 5_000,
};

/** The audit probability of a request charging `charge` (same rule as core's audit assignment). */
export function auditProbability(args: { charge: number; pBase: number; alwaysAuditAbove: number }): number {
  return Math.min(1, args.pBase + args.charge / args.alwaysAuditAbove);
}

/** A Binomial(n, p) draw by inversion (fast for small n·p, exact for any). */
export function binomial(n: number, p: number, random: () => number): number {
  if (p <= 0) return 0;
  if (p >= 1) return n;
  const u = random();
  const q = 1 - p;
  let pmf = q ** n;
  let cdf = pmf;
  let k = 0;
  while (u > cdf && k < n) {
    pmf *= ((n - k) / (k + 1)) * (p / q);
    k++;
    cdf += pmf;
  }
  return k;
}

function drawFee(fees: readonly Fee[], random: () => number): number {
  let u = random();
  for (const f of fees) {
    u -= f.weight;
    if (u <= 0) return f.value;
  }
  return (fees.at(-1) as Fee).value;
}

export type ProviderRun = {
  substituted: number;
  audits: number;
  /** Request index at which an audit decided `substitute` (single audit or pooled), or null. */
  caughtAt: number | null;
  how: "single" | "pooled" | null;
  /** Saving pocketed until the pause (TUSD). */
  gain: number;
  /** Slash paid (TUSD); refunds to payers come out of it. */
  loss: number;
};

/**
 * One provider over `horizon` requests. `cheatRate` of its requests are substituted (only those
 * charging below `cheatBelow`, a cheater avoiding the always-audited ones); `flipRate` applies to
 * substituted answers, `honestFlipRate` to the others.
 */
export function simulateProvider(args: {
  params: EconomicsParams;
  flipRate: number;
  honestFlipRate: number;
  cheatRate: number;
  cheatBelow?: number;
  random: () => number;
}): ProviderRun {
  const { params: e, random } = args;
  const { upper, lower } = sprtBounds(e.sprt);
  let s = 0;
  let substituted = 0;
  let audits = 0;
  let gain = 0;
  let caughtAt: number | null = null;
  let how: ProviderRun["how"] = null;
  const end = () => (caughtAt === null ? e.horizon : Math.min(e.horizon, caughtAt + e.disputeLag));
  for (let i = 0; i < end(); i++) {
    const fee = drawFee(e.fees, random);
    const cheat = fee < (args.cheatBelow ?? Number.POSITIVE_INFINITY) && random() < args.cheatRate;
    if (cheat) {
      substituted++;
      gain += fee * e.savingShare;
    }
    if (caughtAt !== null) continue;
    if (random() >= auditProbability({ charge: fee, pBase: e.pBase, alwaysAuditAbove: e.alwaysAuditAbove })) continue;
    audits++;
    const flips = binomial(e.tokens, cheat ? args.flipRate : args.honestFlipRate, random);
    const llr = auditLlr(e.sprt, { tokens: e.tokens, flips, failed: flips > 0 });
    if (llr >= upper) {
      caughtAt = i;
      how = "single";
      continue;
    }
    s += llr;
    if (s >= upper) {
      caughtAt = i;
      how = "pooled";
    } else if (s <= lower) {
      s = 0;
    }
  }
  const loss = caughtAt === null ? 0 : Math.min(e.stake, e.slash);
  return { substituted, audits, caughtAt, how, gain, loss };
}

/** P(one audit of a substituted answer crosses the upper bound alone): per-audit detection. */
export function singleAuditDetection(args: { sprt: SprtParams; tokens: number; flipRate: number }): number {
  const { upper } = sprtBounds(args.sprt);
  // Smallest flip count whose audit crosses alone, then the binomial tail.
  let k = 0;
  while (k <= args.tokens && auditLlr(args.sprt, { tokens: args.tokens, flips: k, failed: true }) < upper) k++;
  let pmf = (1 - args.flipRate) ** args.tokens;
  let below = 0;
  for (let j = 0; j < k; j++) {
    below += pmf;
    pmf *= ((args.tokens - j) / (j + 1)) * (args.flipRate / (1 - args.flipRate));
  }
  return Math.max(0, 1 - below);
}

export type Scenario = {
  name: string;
  flipRate: number;
  cheatRate: number;
  cheatBelow?: number;
};

export type ScenarioResult = Scenario & {
  runs: number;
  caught: number;
  caughtSingle: number;
  caughtPooled: number;
  meanAuditsToCatch: number | null;
  meanRequestsToCatch: number | null;
  meanSubstituted: number;
  meanGain: number;
  meanLoss: number;
};

export function runScenario(args: {
  params: EconomicsParams;
  scenario: Scenario;
  honestFlipRate: number;
  runs: number;
  random: () => number;
}): ScenarioResult {
  let caught = 0;
  let single = 0;
  let auditsToCatch = 0;
  let requestsToCatch = 0;
  let substituted = 0;
  let gain = 0;
  let loss = 0;
  for (let r = 0; r < args.runs; r++) {
    const run = simulateProvider({
      params: args.params,
      flipRate: args.scenario.flipRate,
      honestFlipRate: args.honestFlipRate,
      cheatRate: args.scenario.cheatRate,
      ...(args.scenario.cheatBelow === undefined ? {} : { cheatBelow: args.scenario.cheatBelow }),
      random: args.random,
    });
    substituted += run.substituted;
    gain += run.gain;
    loss += run.loss;
    if (run.caughtAt !== null) {
      caught++;
      if (run.how === "single") single++;
      auditsToCatch += run.audits;
      requestsToCatch += run.caughtAt + 1;
    }
  }
  return {
    ...args.scenario,
    runs: args.runs,
    caught,
    caughtSingle: single,
    caughtPooled: caught - single,
    meanAuditsToCatch: caught === 0 ? null : auditsToCatch / caught,
    meanRequestsToCatch: caught === 0 ? null : requestsToCatch / caught,
    meanSubstituted: substituted / args.runs,
    meanGain: gain / args.runs,
    meanLoss: loss / args.runs,
  };
}

/**
 * The per-request inequality over the fee range: expected slash p(f) · d · S against the largest
 * saving f. Returns the smallest ratio over `fees` (deterrence holds where it is > 1). Below
 * `alwaysAuditAbove` p(f) ≥ f / alwaysAuditAbove, so the ratio is ≥ d · S / alwaysAuditAbove for
 * every fee: `alwaysAuditAbove < d · S` deters whatever pBase is.
 */
export function perRequestRatio(args: {
  params: Pick<EconomicsParams, "pBase" | "alwaysAuditAbove" | "slash" | "stake">;
  detection: number;
  fees: readonly number[];
}): { fee: number; ratio: number }[] {
  const s = Math.min(args.params.slash, args.params.stake);
  return args.fees.map((fee) => ({
    fee,
    ratio: (auditProbability({ charge: fee, ...args.params }) * args.detection * s) / fee,
  }));
}
