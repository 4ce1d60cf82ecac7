/**
 * The Verity seeded sampler: Gumbel-max sampling whose noise is a keyed function of
 * (seedKey, output position, token id), so a verifier who knows the seed key can replay every
 * draw on its own reference logits (Token-DiFR style).
 *
 * Order of operations (both sides, identically):
 * 1. Candidates: the vocabulary sorted by logit (highest first, ties by lower token id), cut to the
 *    `topK` highest (0 = no cut) and never more than `SEEDED_CANDIDATES`.
 * 2. Top-p on the raw (temperature 1) distribution, llama.cpp's order: keep the shortest prefix whose
 *    probability mass reaches `topP`. Without a top-k cut the mass is normalised over the whole
 *    vocabulary (`totalLogitWeight` = Σ exp(logit − max)); with one, over the top-k set.
 * 3. Temperature T > 0: token = argmax over the kept candidates of `logit + T·g(t, i)`, which is a
 *    draw from softmax(logit / T) restricted to them. T = 0 is greedy: the highest logit.
 *
 * Noise: `g = −log(−log u)` with u uniform in (0, 1) at 53 bits. The position key is
 * sha256("verity.gumbel.v1" ‖ seedKey ‖ position as uint32) (one native hash per output token);
 * per token two 32-bit halves come from a keyed integer mixer of the token id (lowbias32 rounds
 * keyed by the position key). The key is cryptographic, the per-token mixing is not: it only has to
 * be a well-distributed function both sides compute identically — the provider knows the seed key
 * when it samples, what it cannot do is choose the noise.
 *
 * Cost bound: u lies in [2^−54, 1 − 2^−54], so g lies in [−3.62, 37.43] (`GUMBEL_MIN`,
 * `GUMBEL_MAX`). Scanning candidates by descending logit, a token whose logit is below the best
 * score so far minus T·GUMBEL_MAX cannot win, and neither can any later one: the scan stops there.
 * Noise is computed only for candidates that can still win.
 */
import { createHash } from "node:crypto";

/** Most candidates a seeded draw considers (an implicit top-k; the tail beyond carries negligible mass). */
export const SEEDED_CANDIDATES = 1024;
const TWO_POW_53 = 2 ** 53;
/** Largest Gumbel noise the sampler can produce: −log(−log(1 − 2^−54)). */
export const GUMBEL_MAX = -Math.log(-Math.log1p(-(2 ** -54)));
/** Smallest Gumbel noise the sampler can produce: −log(−log(2^−54)). */
export const GUMBEL_MIN = -Math.log(54 * Math.LN2);

export type SeededSampling = {
  /** 0x-prefixed 32-byte hex. */
  seedKey: string;
  temperature: number;
  topP: number;
  /** 0 or absent = no top-k cut (still at most `SEEDED_CANDIDATES`). */
  topK?: number;
};

/** One candidate: token id and raw logit. */
export type Candidate = readonly [token: number, logit: number];

/** Per-position noise key: four 32-bit words. */
export type NoiseKey = Uint32Array;

const DOMAIN = Buffer.from("verity.gumbel.v1", "utf8");

export function seedKeyBytes(seedKey: string): Buffer {
  if (!/^0x[0-9a-fA-F]{64}$/.test(seedKey)) throw new RangeError("seedKey must be 0x followed by 64 hex digits");
  return Buffer.from(seedKey.slice(2), "hex");
}

/** The noise key of output position `position` (0 = first output token). */
export function noiseKey(seedKey: string | Buffer, position: number): NoiseKey {
  const key = typeof seedKey === "string" ? seedKeyBytes(seedKey) : seedKey;
  const pos = Buffer.alloc(4);
  pos.writeUInt32BE(position >>> 0);
  const digest = createHash("sha256").update(DOMAIN).update(key).update(pos).digest();
  const out = new Uint32Array(4);
  for (let i = 0; i < 4; i++) out[i] = digest.readUInt32BE(i * 4);
  return out;
}

function lowbias32(input: number): number {
  let x = input >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The 53-bit integer n in [0, 2^53) behind u = (n + ½)·2^−53 for `token` under `key`. */
export function noiseBits(key: NoiseKey, token: number): number {
  const hi = lowbias32(lowbias32(token ^ key[0]!) ^ key[1]!);
  const lo = lowbias32(lowbias32(token ^ key[2]!) ^ key[3]!) >>> 11;
  return hi * 2 ** 21 + lo;
}

/** Gumbel noise g(t, token) = −log(−log u), computed without rounding u to 1. */
export function gumbel(key: NoiseKey, token: number): number {
  const n = noiseBits(key, token);
  // −log u: for u near 1 use log1p on the exact complement 1 − u = (2^53 − n − ½)·2^−53.
  const e = n >= 2 ** 52 ? -Math.log1p(-((TWO_POW_53 - n - 0.5) / TWO_POW_53)) : -Math.log((n + 0.5) / TWO_POW_53);
  return -Math.log(e);
}

/** Candidates sorted by logit (highest first, ties by lower token id); already sorted input is not re-sorted. */
export function sortCandidates(candidates: Iterable<Candidate>): readonly Candidate[] {
  const list = Array.isArray(candidates) ? (candidates as readonly Candidate[]) : [...candidates];
  for (let i = 1; i < list.length; i++) {
    const a = list[i - 1]!;
    const b = list[i]!;
    if (a[1] < b[1] || (a[1] === b[1] && a[0] > b[0])) {
      return [...list].sort((x, y) => y[1] - x[1] || x[0] - y[0]);
    }
  }
  return list;
}

/**
 * The candidates a draw may pick (steps 1–2), from `sorted` (see `sortCandidates`; it must hold at
 * least the top `min(topK or SEEDED_CANDIDATES, vocabulary)` tokens). `totalLogitWeight` is the
 * full-vocabulary Σ exp(logit − max); when absent, the mass is normalised over `sorted`.
 */
export function allowedCandidates(options: {
  sorted: readonly Candidate[];
  topK?: number;
  topP: number;
  totalLogitWeight?: number;
}): readonly Candidate[] {
  const { sorted, topP } = options;
  const topK = options.topK ?? 0;
  const limit = Math.min(sorted.length, topK > 0 ? Math.min(topK, SEEDED_CANDIDATES) : SEEDED_CANDIDATES);
  const cut = limit === sorted.length ? sorted : sorted.slice(0, limit);
  if (topP >= 1 || cut.length === 0) return cut;
  const max = cut[0]![1];
  let total = topK > 0 ? undefined : options.totalLogitWeight;
  if (total === undefined) {
    total = 0;
    for (const [, logit] of cut) total += Math.exp(logit - max);
  }
  let mass = 0;
  for (let i = 0; i < cut.length; i++) {
    mass += Math.exp(cut[i]![1] - max) / total;
    if (mass >= topP) return cut.slice(0, i + 1);
  }
  return cut;
}

/**
 * The best score max_j (logit_j + T·g_j) over `allowed` (sorted, highest logit first), scanning only
 * candidates that can still win. Returns the winner; greedy (T = 0) returns the first.
 */
export function bestCandidate(options: { allowed: readonly Candidate[]; key: NoiseKey; temperature: number }): {
  token: number;
  score: number;
  evaluated: number;
} {
  const { allowed, key, temperature } = options;
  const first = allowed[0];
  if (!first) throw new RangeError("no candidates to sample from");
  if (temperature === 0) return { token: first[0], score: first[1], evaluated: 0 };
  let bestToken = first[0];
  let best = Number.NEGATIVE_INFINITY;
  const reach = temperature * GUMBEL_MAX;
  let evaluated = 0;
  for (const [token, logit] of allowed) {
    if (logit + reach < best) break;
    evaluated++;
    const score = logit + temperature * gumbel(key, token);
    if (score > best) {
      best = score;
      bestToken = token;
    }
  }
  return { token: bestToken, score: best, evaluated };
}

/** One seeded draw at output `position` from a position's logits. */
export function seededSample(options: {
  sampling: SeededSampling;
  position: number;
  /** Candidates (any order; see `allowedCandidates` for how many are needed). */
  candidates: Iterable<Candidate>;
  totalLogitWeight?: number;
  /** Pass `noiseKey(seedKey, position)` when already computed. */
  key?: NoiseKey;
}): number {
  const { sampling } = options;
  const sorted = sortCandidates(options.candidates);
  const allowed = allowedCandidates({
    sorted,
    topP: sampling.topP,
    ...(sampling.topK === undefined ? {} : { topK: sampling.topK }),
    ...(options.totalLogitWeight === undefined ? {} : { totalLogitWeight: options.totalLogitWeight }),
  });
  const key = options.key ?? noiseKey(sampling.seedKey, options.position);
  return bestCandidate({ allowed, key, temperature: sampling.temperature }).token;
}

/** Probability mass by which a replayed top-p boundary may move (batched prefill against decoding). */
export const TOP_P_SLACK = 0.02;
/** Logit difference within which a replayed top-k boundary may swap. */
export const TOP_K_SLACK = 0.05;
/** Margin of a token outside even the widened cut: a flip whatever its noise. */
export const OUTSIDE_CUT_MARGIN = 100;

/**
 * The cut a verifier can be sure of under small numerical differences: `sure` = candidates every
 * honest engine keeps (top-p prefix whose preceding mass is below topP − TOP_P_SLACK; top-k tokens
 * more than TOP_K_SLACK above the first excluded one), `possible` = candidates an honest engine may
 * keep (preceding mass below topP + TOP_P_SLACK; tokens within TOP_K_SLACK of the k-th logit).
 * Both are prefixes of `sorted`; `sure` is never empty.
 */
export function replayCut(options: {
  sorted: readonly Candidate[];
  topK?: number;
  topP: number;
  totalLogitWeight?: number;
}): { sure: readonly Candidate[]; possible: readonly Candidate[] } {
  const { sorted, topP } = options;
  if (sorted.length === 0) return { sure: [], possible: [] };
  const topK = options.topK ?? 0;
  const k = Math.min(sorted.length, topK > 0 ? Math.min(topK, SEEDED_CANDIDATES) : SEEDED_CANDIDATES);
  let sureK = k;
  let possibleK = k;
  if (k < sorted.length) {
    const kth = sorted[k - 1]![1];
    const next = sorted[k]![1];
    while (sureK > 1 && sorted[sureK - 1]![1] < next + TOP_K_SLACK) sureK--;
    while (possibleK < sorted.length && sorted[possibleK]![1] > kth - TOP_K_SLACK) possibleK++;
  }
  if (topP >= 1) return { sure: sorted.slice(0, sureK), possible: sorted.slice(0, possibleK) };
  const max = sorted[0]![1];
  let total = topK > 0 ? undefined : options.totalLogitWeight;
  if (total === undefined) {
    total = 0;
    for (let i = 0; i < k; i++) total += Math.exp(sorted[i]![1] - max);
  }
  // Token i is kept when the mass before it is below topP (llama.cpp: the prefix reaching topP).
  let before = 0;
  let sureP = possibleK;
  let possibleP = possibleK;
  for (let i = 0; i < possibleK; i++) {
    if (before >= topP - TOP_P_SLACK && sureP === possibleK) sureP = Math.max(1, i);
    if (before >= topP + TOP_P_SLACK) {
      possibleP = i;
      break;
    }
    before += Math.exp(sorted[i]![1] - max) / total;
  }
  return { sure: sorted.slice(0, Math.min(sureK, sureP)), possible: sorted.slice(0, possibleP) };
}

/**
 * The DiFR margin of an emitted token, in logit units (nats at the model's scale):
 * `max_j (l_j + T·g_j) − (l_e + T·g_e)` over the candidates every honest engine keeps
 * (`replayCut().sure`), clipped at 0; `OUTSIDE_CUT_MARGIN` when the token is outside even the
 * widened cut (`inAllowed: false`). 0 when the reference would have drawn the same token; greedy:
 * the logit gap to the top token. (Dividing by T gives the margin in Gumbel-score units; logit
 * units keep one tolerance for every temperature, since numerical noise lives in the logits.)
 * The widened cut matters: a boundary token an honest engine left out of its nucleus can win the
 * reference's replay with a large margin, which is not evidence of anything.
 */
export function seededMargin(options: {
  sampling: SeededSampling;
  position: number;
  candidates: Iterable<Candidate>;
  totalLogitWeight?: number;
  token: number;
  /** The emitted token's reference logit. */
  tokenLogit: number;
}): { margin: number; inAllowed: boolean } {
  const { sampling, token, tokenLogit } = options;
  const sorted = sortCandidates(options.candidates);
  const { sure, possible } = replayCut({
    sorted,
    topP: sampling.topP,
    ...(sampling.topK === undefined ? {} : { topK: sampling.topK }),
    ...(options.totalLogitWeight === undefined ? {} : { totalLogitWeight: options.totalLogitWeight }),
  });
  // Greedy ignores the cut: the margin is the logit gap to the top token.
  if (sampling.temperature === 0) return { margin: Math.max(0, sorted[0]![1] - tokenLogit), inAllowed: true };
  const inAllowed = possible.some(([t]) => t === token);
  if (!inAllowed) return { margin: OUTSIDE_CUT_MARGIN, inAllowed };
  const key = noiseKey(sampling.seedKey, options.position);
  const best = bestCandidate({ allowed: sure, key, temperature: sampling.temperature });
  const own = tokenLogit + sampling.temperature * gumbel(key, token);
  return { margin: Math.max(0, best.score - own), inAllowed };
}
