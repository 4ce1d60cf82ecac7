/**
 * Deterrence model (`npm run bench -- deterrence-model`, a few seconds, no chain): the expected
 * loss and gain of cheating under value-weighted audit assignment, per-audit seeded detection and
 * the pooled SPRT (bench/sim-economics.ts), for the default parameters; and how many honest
 * providers the same rules would slash. One JSON line per figure on stdout (bench format), a
 * readable table on stderr. See docs/DETERRENCE.md.
 *   node bench/deterrence-model.ts [--runs 2000] [--seed 1] [--flip-q4 0.38368] [--flip-q8 0.02391]
 *                                  [--flip-honest 0.00001] [--honest 2000]
 * The flip rates default to the seeded calibration (packages/validator/calibration.md: q4 0.38368 and q8
 * 0.02391 flips per token; honest 0 flips in 318k tokens, taken at its 95 % upper bound ≈ 10⁻⁵).
 */
import { parseArgs } from "node:util";
import { DEFAULT_SPRT, runSprt } from "../packages/validator/src/sprt.ts";
import {
  binomial,
  DEFAULT_ECONOMICS,
  type EconomicsParams,
  perRequestRatio,
  runScenario,
  type Scenario,
  singleAuditDetection,
} from "./sim-economics.ts";
import { benchLine, proportion, seededRandom } from "./sim-stats.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "2000" },
    honest: { type: "string", default: "2000" },
    seed: { type: "string", default: "1" },
    "flip-q4": { type: "string", default: "0.38368" },
    "flip-q8": { type: "string", default: "0.02391" },
    "flip-honest": { type: "string", default: "0.00001" },
  },
});
const RUNS = Number(values.runs);
const HONEST = Number(values.honest);
const FLIP = { q4: Number(values["flip-q4"]), q8: Number(values["flip-q8"]), honest: Number(values["flip-honest"]) };
const params: EconomicsParams = { ...DEFAULT_ECONOMICS, sprt: DEFAULT_SPRT };
const random = seededRandom(Number(values.seed));
const say = (line: string) => process.stderr.write(`${line}\n`);
const common = {
  pBase: params.pBase,
  alwaysAuditAbove: params.alwaysAuditAbove,
  slash: params.slash,
  tokens: params.tokens,
  horizon: params.horizon,
  disputeLag: params.disputeLag,
  sprt: params.sprt,
  flipRates: FLIP,
};

// Per-audit detection (one 300-token audit crossing the bound alone).
const d4 = singleAuditDetection({ sprt: params.sprt, tokens: params.tokens, flipRate: FLIP.q4 });
const d8 = singleAuditDetection({ sprt: params.sprt, tokens: params.tokens, flipRate: FLIP.q8 });
benchLine({
  bench: "deterrence-model",
  metric: "q4_detection_per_audit",
  value: d4,
  unit: "ratio",
  baseline: 0.99,
  extra: common,
});
benchLine({
  bench: "deterrence-model",
  metric: "q8_detection_per_audit",
  value: d8,
  unit: "ratio",
  baseline: null,
  extra: common,
});

// 8-bit within 1,000 tokens: one audit of 1,000 tokens alone, and the pooled test over audits of
// 300 tokens stopped at 900 tokens (three audits).
const d8At1000 = singleAuditDetection({ sprt: params.sprt, tokens: 1_000, flipRate: FLIP.q8 });
let pooledHits = 0;
for (let r = 0; r < RUNS * 5; r++) {
  const audits = Array.from({ length: 3 }, () => ({
    tokens: 300,
    flips: binomial(300, FLIP.q8, random),
    failed: false,
  }));
  if (runSprt({ params: params.sprt, audits }).decision === "substitute") pooledHits++;
}
const pooled8 = proportion(pooledHits, RUNS * 5);
benchLine({
  bench: "deterrence-model",
  metric: "q8_detection_within_1000_tokens",
  value: Math.max(d8At1000, pooled8.rate ?? 0),
  unit: "ratio",
  baseline: 0.95,
  extra: { singleAuditOf1000Tokens: d8At1000, pooledThreeAuditsOf300: pooled8, ...common },
});
say(
  `q8 within 1,000 tokens: one 1,000-token audit ${(d8At1000 * 100).toFixed(1)} %, pooled over 3 × 300 tokens ${((pooled8.rate ?? 0) * 100).toFixed(1)} %`,
);

const scenarios: Scenario[] = [
  { name: "q4, every request", flipRate: FLIP.q4, cheatRate: 1 },
  { name: "q4, 10 % of requests", flipRate: FLIP.q4, cheatRate: 0.1 },
  { name: "q8, every request", flipRate: FLIP.q8, cheatRate: 1 },
  { name: "q8, 10 % of requests", flipRate: FLIP.q8, cheatRate: 0.1 },
  {
    name: "q8, only requests below alwaysAuditAbove",
    flipRate: FLIP.q8,
    cheatRate: 1,
    cheatBelow: params.alwaysAuditAbove,
  },
];
say(
  "| cheater | caught within 5,000 requests | single / pooled | audits to catch | requests to catch | expected gain (TUSD) | expected loss (TUSD) | loss ÷ gain |",
);
say("|---|---|---|---|---|---|---|---|");
for (const scenario of scenarios) {
  const r = runScenario({ params, scenario, honestFlipRate: FLIP.honest, runs: RUNS, random });
  const caught = proportion(r.caught, r.runs);
  const ratio = r.meanGain === 0 ? null : r.meanLoss / r.meanGain;
  const key = scenario.name
    .replace(/[^a-z0-9]+/gi, "_")
    .toLowerCase()
    .replace(/_+$/, "");
  benchLine({
    bench: "deterrence-model",
    metric: `loss_over_gain_${key}`,
    value: ratio,
    unit: "ratio",
    baseline: 1,
    extra: {
      caught: r.caught,
      runs: r.runs,
      ci95: [caught.low, caught.high],
      caughtSingle: r.caughtSingle,
      caughtPooled: r.caughtPooled,
      meanAuditsToCatch: r.meanAuditsToCatch,
      meanRequestsToCatch: r.meanRequestsToCatch,
      meanSubstituted: r.meanSubstituted,
      meanGain: r.meanGain,
      meanLoss: r.meanLoss,
    },
  });
  say(
    `| ${scenario.name} | ${r.caught}/${r.runs} | ${r.caughtSingle} / ${r.caughtPooled} | ${r.meanAuditsToCatch?.toFixed(2) ?? "—"} | ${r.meanRequestsToCatch?.toFixed(0) ?? "—"} | ${r.meanGain.toFixed(4)} | ${r.meanLoss.toFixed(1)} | ${ratio === null ? "—" : ratio.toFixed(0)} |`,
  );
}

// Honest providers under the same rules: at the calibrated honest flip rate bound, and at the test's H0 bound p0.
for (const [label, rate] of [
  ["honest", FLIP.honest],
  ["honest_at_p0", params.sprt.p0],
] as const) {
  const r = runScenario({
    params,
    scenario: { name: label, flipRate: rate, cheatRate: 0 },
    honestFlipRate: rate,
    runs: HONEST,
    random,
  });
  const slashed = proportion(r.caught, r.runs);
  benchLine({
    bench: "deterrence-model",
    metric: `${label}_providers_slashed`,
    value: r.caught,
    unit: "providers",
    baseline: 0,
    extra: { runs: r.runs, flipRate: rate, ci95: [slashed.low, slashed.high], requestsEach: params.horizon },
  });
  say(`${label}: ${r.caught}/${r.runs} providers slashed over ${params.horizon} requests each (flip rate ${rate})`);
}

// The per-request inequality p(f) · d · S > f over the fee range, with the q4 and the q8 per-audit detection.
const fees = [0.0001, 0.0004, 0.001, 0.01, 0.1, 0.5, 0.99, 1, 2, 10];
for (const [label, d] of [
  ["q4", d4],
  ["q8", d8],
] as const) {
  const ratios = perRequestRatio({ params, detection: d, fees });
  const worst = ratios.reduce((a, b) => (b.ratio < a.ratio ? b : a));
  benchLine({
    bench: "deterrence-model",
    metric: `min_expected_slash_over_fee_${label}`,
    value: worst.ratio,
    unit: "ratio",
    baseline: 1,
    extra: { atFee: worst.fee, detection: d, ratios },
  });
  say(
    `${label}: min over fees of p(f)·d·S / f = ${worst.ratio.toFixed(1)} at f = ${worst.fee} TUSD (d = ${d.toFixed(4)})`,
  );
}
