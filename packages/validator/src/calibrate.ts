/**
 * Calibration of the audit verdict: generate transcripts from honest providers (the reference model
 * with several seed keys, batch sizes and thread counts) and from substitutes (another model, 4- and
 * 8-bit quantisations of the reference weights, random tokens, shuffled honest tokens), every one
 * seed-synced (the Verity seeded sampler with a per-transcript seed key, which substitutes use too);
 * score every transcript against the reference with one rescore that also replays the seeded
 * sampler (DiFR margins); choose thresholds from the honest half and measure false positives on the
 * other honest half and detection per substitute kind at token budgets 32 / 100 / 300 / 1000.
 */
import { createHash } from "node:crypto";
import { createLlamaCppEngine, type Engine, ensureTestModel } from "@verity/engine";
import { type AuditStats, controlTokensOf, judge, rescoreTopK, seededStats, summarize } from "./audit-verdict.ts";
import type { Rate, Thresholds } from "./thresholds.ts";
import type { TokenStat } from "./token-stats.ts";
import { tokenStats } from "./token-stats.ts";

export const REFERENCE_MODEL = "verity-tiny";
/** Known cheap substitute the optional likelihood-ratio test compares against. */
export const SUSPECT_MODEL = "verity-tiny-q4";
export const BUDGETS = [32, 100, 300, 1000] as const;
export const SUBSTITUTES = ["sub", "q4", "q8", "random", "shuffled"] as const;
export type Kind = "honest" | (typeof SUBSTITUTES)[number];
export const SETTINGS = [
  { temperature: 0, topP: 1 },
  { temperature: 0.7, topP: 1 },
  { temperature: 0.7, topP: 0.9 },
  { temperature: 1, topP: 1 },
  { temperature: 1, topP: 0.9 },
] as const;

/** Honest provider set-ups: llama.cpp batch size and threads (the validator rescores with 512 / 1). */
export const HONEST_CONFIGS = [
  { batchSize: 512, threads: 1 },
  { batchSize: 64, threads: 1 },
  { batchSize: 16, threads: 1 },
  { batchSize: 512, threads: 2 },
] as const;

export type Job = {
  id: number;
  kind: Kind;
  prompt: string;
  temperature: number;
  topP: number;
  seed: number;
  /** The seed key the generation and the rescore use (substitutes sample with it too). */
  seedKey: string;
  maxTokens: number;
  config: number;
};

/** A job's seed key (fixed per id, so runs are reproducible). */
export function jobSeedKey(id: number): string {
  return `0x${createHash("sha256").update(`verity.calibration.seed-key.${id}`).digest("hex")}`;
}

export type JobResult = {
  id: number;
  kind: Kind;
  temperature: number;
  topP: number;
  config: number;
  tokens: number;
  endsWithControl: boolean;
  /** Summary at each budget (key = budget); `seeded` there uses the tolerance the run started with. */
  summaries: Record<string, AuditStats>;
  /** Positive DiFR margins as [output index, margin] (every other token's margin is 0). */
  seededMargins: [number, number][];
  generateMs: number;
  rescoreMs: number;
  suspectRescoreMs: number;
};

const WORDS = (
  "the a sea ship storm light house river mountain city market old young child teacher story song " +
  "night morning winter summer fire stone bread water garden road window letter friend king queen " +
  "machine engine number code proof chain token price market trade coin bank ledger model answer " +
  "question why how what when tell write explain describe list compare imagine remember build " +
  "quickly slowly quietly strange bright dark green red blue small large ancient modern careful"
).split(" ");

/** Deterministic xorshift PRNG for the corpus (not for secrets). */
export function rng(seed: number): () => number {
  let s = (seed * 2654435761) >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

export function makePrompt(index: number): string {
  const r = rng(index + 17);
  const length = 4 + Math.floor(r() * 24);
  const words: string[] = [];
  for (let i = 0; i < length; i++) words.push(WORDS[Math.floor(r() * WORDS.length)]!);
  return words.join(" ");
}

export type CorpusSize = { honest: number; perSubstitute: Record<(typeof SUBSTITUTES)[number], number> };

export const FULL_SIZE: CorpusSize = {
  honest: 5000,
  perSubstitute: { sub: 200, q4: 600, q8: 400, random: 150, shuffled: 150 },
};
export const QUICK_SIZE: CorpusSize = {
  honest: 50,
  perSubstitute: { sub: 10, q4: 15, q8: 5, random: 10, shuffled: 10 },
};

/** The job list: settings rotate, most outputs may run to 300 tokens, some are capped shorter. */
export function makeJobs(size: CorpusSize): Job[] {
  const jobs: Job[] = [];
  let id = 0;
  const add = (kind: Kind, count: number) => {
    for (let i = 0; i < count; i++) {
      const r = rng(id * 7919 + 1);
      const setting = SETTINGS[i % SETTINGS.length]!;
      const lengthPick = r();
      const maxTokens = lengthPick < 0.2 ? 1000 : lengthPick < 0.8 ? 300 : lengthPick < 0.9 ? 100 : 32;
      // Two threads spin-wait on two cores: keep that configuration rare (it is slow, not different).
      const config = kind === "honest" ? (i % 50 === 49 ? 3 : i % 3) : 0;
      jobs.push({
        id,
        kind,
        prompt: makePrompt(id),
        temperature: setting.temperature,
        topP: setting.topP,
        seed: Math.floor(r() * 0xfffffffe),
        seedKey: jobSeedKey(id),
        maxTokens: config === 3 ? 32 : maxTokens,
        config,
      });
      id++;
    }
  };
  add("honest", size.honest);
  for (const kind of SUBSTITUTES) add(kind, size.perSubstitute[kind]);
  return jobs;
}

const GENERATOR_MODEL: Record<Kind, string> = {
  honest: "verity-tiny",
  sub: "verity-tiny-sub",
  q4: "verity-tiny-q4",
  q8: "verity-tiny-q8",
  random: "verity-tiny",
  shuffled: "verity-tiny",
};

/** Runs jobs in this process: one reference engine for rescoring, generator engines as needed. */
export async function runJobs(jobs: readonly Job[], onResult: (r: JobResult) => void): Promise<void> {
  const reference = await createLlamaCppEngine({ modelPath: await ensureTestModel({ name: REFERENCE_MODEL }) });
  const suspect = await createLlamaCppEngine({ modelPath: await ensureTestModel({ name: SUSPECT_MODEL }) });
  const engines = new Map<string, Engine>();
  const control = controlTokensOf(reference);
  const plain = [...Array(reference.vocabSize).keys()].filter((t) => !control.has(t));
  const topK = rescoreTopK(reference);
  async function generator(kind: Kind, config: number): Promise<Engine> {
    const model = GENERATOR_MODEL[kind];
    const key = `${model}/${config}`;
    let engine = engines.get(key);
    if (!engine) {
      const c = HONEST_CONFIGS[config]!;
      engine = await createLlamaCppEngine({ modelPath: await ensureTestModel({ name: model }), ...c });
      engines.set(key, engine);
    }
    return engine;
  }
  try {
    for (const job of jobs) {
      const sampling = { temperature: job.temperature, topP: job.topP };
      const started = performance.now();
      const engine = await generator(job.kind, job.config);
      const generated = await engine.generate({
        prompt: { messages: [{ role: "user", content: job.prompt }] },
        sampling: { ...sampling, seed: job.seed, seedKey: job.seedKey, maxTokens: job.maxTokens },
      });
      let output = generated.outputTokens;
      const r = rng(job.seed + 3);
      if (job.kind === "random") {
        output = Array.from({ length: job.maxTokens }, () => plain[Math.floor(r() * plain.length)]!);
      } else if (job.kind === "shuffled") {
        // Same tokens, other order; the final token (often end-of-generation) stays last.
        const body = output.slice(0, -1);
        for (let i = body.length - 1; i > 0; i--) {
          const j = Math.floor(r() * (i + 1));
          [body[i], body[j]] = [body[j]!, body[i]!];
        }
        output = [...body, ...output.slice(-1)];
      }
      const generateMs = performance.now() - started;
      const rescoreStarted = performance.now();
      const { scores } = await reference.rescore({
        promptTokens: generated.promptTokens,
        outputTokens: output,
        topK,
        seeded: { seedKey: job.seedKey, ...sampling },
      });
      const seededMargins: [number, number][] = [];
      scores.forEach((s, i) => {
        const m = s.seeded?.margin ?? 0;
        if (m > 0) seededMargins.push([i, Number(m.toPrecision(6))]);
      });
      const stats = tokenStats(scores, sampling);
      const rescoreMs = performance.now() - rescoreStarted;
      const suspectStarted = performance.now();
      const suspectScores = await suspect.rescore({ promptTokens: generated.promptTokens, outputTokens: output, topK });
      const suspects = new Map<string, TokenStat[]>([[suspect.name, tokenStats(suspectScores.scores, sampling)]]);
      const suspectRescoreMs = performance.now() - suspectStarted;
      const summaries: Record<string, AuditStats> = {};
      for (const budget of BUDGETS) {
        summaries[budget] = summarize(stats, { sampling, budget, controlTokens: control, suspects });
      }
      onResult({
        id: job.id,
        kind: job.kind,
        temperature: job.temperature,
        topP: job.topP,
        config: job.config,
        tokens: output.length,
        endsWithControl: output.length > 0 && control.has(output.at(-1)!),
        summaries,
        seededMargins,
        generateMs,
        rescoreMs,
        suspectRescoreMs,
      });
    }
  } finally {
    for (const engine of engines.values()) await engine.close();
    await reference.close();
    await suspect.close();
  }
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const sd = (xs: readonly number[]) => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
};
const round = (x: number, digits = 4) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Poisson upper tail P(X > k). */
function poissonTail(lambda: number, k: number): number {
  let term = Math.exp(-lambda);
  let cdf = term;
  for (let i = 1; i <= k; i++) {
    term *= lambda / i;
    cdf += term;
  }
  return Math.max(0, 1 - cdf);
}

/** Per-transcript false-positive target of each rule (six rules → ≤ 0.06 % in all, under the 0.1 % goal). */
export const RULE_ALPHA = 1e-4;
/** Gaussian quantile for a one-sided tail of RULE_ALPHA / 2. */
const Z_TAIL = 3.89;

/**
 * Thresholds from honest summaries (every budget): each rule's honest tail is bounded analytically
 * or by a Gaussian fit at RULE_ALPHA, and never tighter than the worst honest value plus a margin.
 */
export function chooseThresholds(honest: readonly JobResult[], vocabSize: number): Thresholds {
  const all = honest.flatMap((r) => BUDGETS.map((b) => r.summaries[b]!));
  const greedy = all.filter((s) => s.regime === "greedy");
  const sampled = all.filter((s) => s.regime === "sampled");
  const full = honest.map((r) => r.summaries[300]!);

  const maxGap = Math.max(0, ...greedy.flatMap((s) => s.nonTop1Gaps));
  const maxShare = Math.max(0, ...greedy.map((s) => s.nonTop1Share));
  const maxRank = Math.max(1, ...greedy.map((s) => s.maxRank));
  const maxLowRank = Math.max(0, ...greedy.map((s) => s.lowRankTokens));

  const maxExcess = Math.max(0, ...sampled.flatMap((s) => s.nucleusExcess));
  const maxOutside = Math.max(0, ...sampled.map((s) => s.nucleusExcess.filter((e) => e > 0).length));
  const minLq = Math.min(0, ...sampled.map((s) => s.minSampledLogprob ?? 0));
  // P(any of 300 honest tokens has q < ε) ≤ 300 · V · ε.
  const analyticFloor = Math.log(RULE_ALPHA / (300 * vocabSize));
  const lowProbCounts = full.filter((s) => s.regime === "sampled").map((s) => s.lowProbTokens);
  const lambda = Math.max(0.05, mean(lowProbCounts));
  let maxLowProb = Math.max(0, ...lowProbCounts) + 1;
  while (poissonTail(lambda, maxLowProb) > RULE_ALPHA) maxLowProb++;

  const zs = sampled.filter((s) => s.tokens >= 8).map((s) => s.z);
  const zMean = mean(zs);
  const zSd = Math.max(1, sd(zs));
  const zMin = Math.min(zMean - Z_TAIL * zSd, Math.min(...zs) - 0.5);
  const zMax = Math.max(zMean + Z_TAIL * zSd, Math.max(...zs) + 0.5);

  const agreements32 = honest
    .map((r) => r.summaries[32]!)
    .filter((s) => s.regime === "sampled")
    .map((s) => s.meanAgreement);
  const minAgreement = Math.min(
    mean(agreements32) - 2 * Z_TAIL * sd(agreements32),
    Math.min(...sampled.map((s) => s.meanAgreement)) - 0.05,
  );

  const llrs = all.flatMap((s) => Object.values(s.suspectLlr));
  const minSuspectLlr = Math.min(Math.log(RULE_ALPHA), Math.min(0, ...llrs) - 2);

  const eosLqs = all.flatMap((s) => (s.eos?.sampledLogprob == null ? [] : [s.eos.sampledLogprob]));
  const minEos = Math.min(Math.log(RULE_ALPHA), Math.min(0, ...eosLqs) - 2);

  // Seeded: honest margins are numerical noise (batched prefill against one-token decoding), bounded
  // by the logit error; twice the worst honest margin, never under 0.02 nats, and no flips allowed.
  // A margin of a logit or more is not noise: it stays out of the fit (and shows as a false positive).
  const maxMargin = Math.max(0, ...honest.flatMap((r) => r.seededMargins.map(([, m]) => m).filter((m) => m < 1)));

  return {
    greedy: {
      tieMargin: round(Math.max(0.02, 3 * maxGap)),
      maxFlips: 0,
      maxNonTop1Share: round(Math.min(0.5, Math.max(0.05, 2 * maxShare))),
      maxRank: Math.max(75, maxRank + 25),
      maxLowRankTokens: Math.max(4, maxLowRank + 2),
    },
    sampled: {
      nucleusTolerance: round(Math.max(0.01, 3 * maxExcess)),
      maxOutsideNucleus: maxOutside > 0 && maxExcess > 0.01 ? maxOutside : 0,
      minTokenLogprob: round(Math.min(analyticFloor, minLq - 2), 3),
      maxLowProbTokens: maxLowProb,
      zMin: round(zMin, 3),
      zMax: round(zMax, 3),
      minMeanAgreement: round(Math.max(0, minAgreement)),
    },
    seeded: { marginTolerance: round(Math.max(0.02, 2 * maxMargin)), maxFlips: 0 },
    minEosLogprob: round(minEos, 3),
    minSuspectLlr: round(minSuspectLlr, 3),
  };
}

/** The result's margins as a dense array (length = its tokens). */
export function denseMargins(r: Pick<JobResult, "tokens" | "seededMargins">): number[] {
  const out = new Array<number>(r.tokens).fill(0);
  for (const [i, m] of r.seededMargins) out[i] = m;
  return out;
}

/** The result's summary at `budget` with its seeded part recomputed at the thresholds' tolerance. */
export function summaryAt(r: JobResult, budget: number, thresholds: Thresholds): AuditStats {
  const s = r.summaries[budget]!;
  return { ...s, seeded: seededStats(denseMargins(r), thresholds.seeded.marginTolerance, budget) };
}

/** Clopper–Pearson 95 % interval for k failures in n. */
export function clopperPearson(k: number, n: number): [number, number] {
  if (n === 0) return [0, 1];
  const lower = k === 0 ? 0 : betaQuantile(0.025, k, n - k + 1);
  const upper = k === n ? 1 : betaQuantile(0.975, k + 1, n - k);
  return [round(lower, 5), round(upper, 5)];
}

function betaQuantile(p: number, a: number, b: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (betaCdf(mid, a, b) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Regularised incomplete beta by numeric integration in log space (adequate for CIs). */
function betaCdf(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const steps = 2000;
  const lnB = lgamma(a) + lgamma(b) - lgamma(a + b);
  const density = (t: number) => Math.exp((a - 1) * Math.log(t) + (b - 1) * Math.log(1 - t) - lnB);
  // Integrate with a t = u^k substitution near 0 to tame a < 1 singularities (here a, b ≥ 1).
  let sum = 0;
  const h = x / steps;
  for (let i = 0; i < steps; i++) {
    const t0 = i * h;
    const t1 = t0 + h;
    const tm = (t0 + t1) / 2;
    sum += (h / 6) * (density(Math.max(t0, 1e-300)) + 4 * density(tm) + density(Math.min(t1, 1 - 1e-16)));
  }
  return Math.min(1, sum);
}

function lgamma(z: number): number {
  const g = 7;
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - lgamma(1 - z);
  const zz = z - 1;
  let x = c[0]!;
  for (let i = 1; i < g + 2; i++) x += c[i]! / (zz + i);
  const t = zz + g + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (zz + 0.5) * Math.log(t) - t + Math.log(x);
}

/** One-sided 95 % upper bound of a rate with k failures in n (Clopper–Pearson; 3/n-ish at k = 0). */
export function upper95(k: number, n: number): number {
  if (n === 0 || k === n) return 1;
  if (k === 0) return round(1 - 0.05 ** (1 / n), 6);
  return round(betaQuantile(0.95, k + 1, n - k), 6);
}

function rate(failures: number, n: number): Rate {
  return {
    n,
    failures,
    rate: n === 0 ? 0 : round(failures / n, 5),
    ci95: clopperPearson(failures, n),
    upper95: upper95(failures, n),
  };
}

/**
 * Rates at each budget: `honest` = false positives on the held-out honest results; each substitute
 * kind = detection (fails), also split by regime (`q4/greedy`, `q4/sampled`) and restricted to
 * transcripts at least as long as the budget (`q4/full-length`). Budget keys `N` use the one-rescore
 * verdict; `N+suspect` adds the likelihood-ratio test against the suspect (4-bit) model.
 */
export function measureRates(
  results: readonly JobResult[],
  thresholds: Thresholds,
): Record<string, Record<string, Rate>> {
  const out: Record<string, Record<string, Rate>> = {};
  for (const budget of BUDGETS) {
    const byKey = new Map<string, { n: number; fail: number }>();
    const withSuspect = new Map<string, { n: number; fail: number }>();
    const seededOnly = new Map<string, { n: number; fail: number }>();
    const withoutSeeded = new Map<string, { n: number; fail: number }>();
    const bumpIn = (map: typeof byKey, key: string, failed: boolean) => {
      const entry = map.get(key) ?? { n: 0, fail: 0 };
      entry.n++;
      if (failed) entry.fail++;
      map.set(key, entry);
    };
    for (const r of results) {
      const s = summaryAt(r, budget, thresholds);
      const failed = !judge({ ...s, suspectLlr: {} }, thresholds).pass;
      const failedWith = !judge(s, thresholds).pass;
      const seededFailed = (s.seeded?.flips ?? 0) > thresholds.seeded.maxFlips;
      const { seeded: _, ...unseeded } = s;
      const failedWithout = !judge({ ...unseeded, suspectLlr: {} }, thresholds).pass;
      for (const [map, f] of [
        [byKey, failed],
        [withSuspect, failedWith],
        [seededOnly, seededFailed],
        [withoutSeeded, failedWithout],
      ] as const) {
        bumpIn(map, r.kind, f);
        bumpIn(map, `${r.kind}/${s.regime}`, f);
        if (r.tokens >= budget) bumpIn(map, `${r.kind}/full-length`, f);
      }
    }
    const toRates = (map: typeof byKey) => {
      const rates: Record<string, Rate> = {};
      for (const key of [...map.keys()].sort()) {
        const e = map.get(key)!;
        rates[key] = rate(e.fail, e.n);
      }
      return rates;
    };
    out[String(budget)] = toRates(byKey);
    out[`${budget}+suspect`] = toRates(withSuspect);
    out[`${budget}:seeded-only`] = toRates(seededOnly);
    out[`${budget}:unseeded`] = toRates(withoutSeeded);
  }
  return out;
}

/**
 * Provider-level rates: a validator accumulates evidence over one provider's audited responses.
 * Transcripts of one kind are pooled in id order until they hold `budget` tokens; a pool fails when
 * any member fails its own verdict, or (`+suspect`) when the pooled likelihood ratio against the
 * suspect is below the threshold (the e^−c bound holds for the product of independent responses).
 */
export function pooledRates(
  results: readonly JobResult[],
  thresholds: Thresholds,
): Record<string, Record<string, Rate>> {
  const out: Record<string, Record<string, Rate>> = {};
  for (const budget of [100, 300, 1000]) {
    const generic: Record<string, Rate> = {};
    const suspect: Record<string, Rate> = {};
    for (const kind of ["honest", ...SUBSTITUTES] as const) {
      const pools: JobResult[][] = [];
      let current: JobResult[] = [];
      let tokens = 0;
      for (const r of results.filter((r) => r.kind === kind)) {
        current.push(r);
        tokens += r.tokens;
        if (tokens >= budget) {
          pools.push(current);
          current = [];
          tokens = 0;
        }
      }
      let failed = 0;
      let failedWith = 0;
      for (const pool of pools) {
        const full = pool.map((r) => summaryAt(r, 1000, thresholds));
        const anyFails = full.some((s) => !judge({ ...s, suspectLlr: {} }, thresholds).pass);
        const llr = new Map<string, number>();
        for (const s of full)
          for (const [name, v] of Object.entries(s.suspectLlr)) llr.set(name, (llr.get(name) ?? 0) + v);
        const llrFails = [...llr.values()].some((v) => v < thresholds.minSuspectLlr);
        if (anyFails) failed++;
        if (anyFails || llrFails) failedWith++;
      }
      generic[kind] = rate(failed, pools.length);
      suspect[kind] = rate(failedWith, pools.length);
    }
    out[`pooled-${budget}`] = generic;
    out[`pooled-${budget}+suspect`] = suspect;
  }
  return out;
}

/** Honest results split deterministically: ids divisible by 4 choose thresholds, the other three quarters measure false positives. */
export function splitHonest(results: readonly JobResult[]): { fit: JobResult[]; holdout: JobResult[] } {
  const honest = results.filter((r) => r.kind === "honest");
  return { fit: honest.filter((r) => r.id % 4 === 0), holdout: honest.filter((r) => r.id % 4 !== 0) };
}

export function describeHonest(results: readonly JobResult[]) {
  const honest = results.filter((r) => r.kind === "honest");
  const sampled = honest.map((r) => r.summaries[300]!).filter((s) => s.regime === "sampled");
  const zs = sorted(sampled.map((s) => s.z));
  return {
    transcripts: honest.length,
    meanTokens: round(mean(honest.map((r) => r.tokens)), 1),
    endedWithEos: honest.filter((r) => r.endsWithControl).length,
    zMean: round(mean(zs)),
    zSd: round(sd(zs)),
    zMin: round(zs[0] ?? 0),
    zMax: round(zs.at(-1) ?? 0),
  };
}
