/**
 * Small statistics and scraping helpers for the deterrence simulation (bench/deterrence-sim.ts):
 * binomial confidence intervals, Prometheus text sums, and the bench's JSON line format.
 */

/** A proportion with its count and its 95 % Wilson score interval. */
export type Proportion = { hits: number; n: number; rate: number | null; low: number; high: number };

/** `hits` of `n` with the 95 % Wilson score interval (rate null and [0, 1] when n = 0). */
export function proportion(hits: number, n: number): Proportion {
  if (n === 0) return { hits, n, rate: null, low: 0, high: 1 };
  const z = 1.959964;
  const p = hits / n;
  const denom = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denom;
  return { hits, n, rate: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/** Sum of every sample of `metric` (any labels) in a Prometheus text exposition. */
export function promSum(text: string, metric: string): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match && match[1] === metric) sum += Number(match[3]);
  }
  return sum;
}

/** Six significant digits (fees and savings are tiny next to slashes). */
const round = (x: number, digits = 6) => (x === 0 || !Number.isFinite(x) ? x : Number(x.toPrecision(digits)));

/** Prints one figure as a bench JSON line on stdout: `{"bench","metric","value","unit","baseline","ratio",…}`. */
export function benchLine(args: {
  bench: string;
  metric: string;
  value: number | null;
  unit: string;
  baseline: number | null;
  extra?: Record<string, unknown>;
}): void {
  const { value, baseline } = args;
  console.log(
    JSON.stringify({
      bench: args.bench,
      metric: args.metric,
      value: value === null ? null : round(value),
      unit: args.unit,
      baseline: baseline === null ? null : round(baseline),
      ratio: value !== null && baseline ? round(value / baseline, 5) : null,
      ...args.extra,
    }),
  );
}

/** A deterministic uniform generator in [0, 1) (mulberry32) for reproducible prompts and seeds. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
