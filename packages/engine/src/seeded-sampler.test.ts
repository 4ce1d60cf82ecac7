import assert from "node:assert/strict";
import { test } from "node:test";
import {
  allowedCandidates,
  type Candidate,
  GUMBEL_MAX,
  GUMBEL_MIN,
  gumbel,
  noiseBits,
  noiseKey,
  OUTSIDE_CUT_MARGIN,
  replayCut,
  SEEDED_CANDIDATES,
  seededMargin,
  seededSample,
  sortCandidates,
  TOP_P_SLACK,
} from "./seeded-sampler.ts";

const KEY_A = `0x${"11".repeat(32)}`;
const KEY_B = `0x${"22".repeat(32)}`;
const LOGITS: Candidate[] = [3.1, 2.4, 2.2, 1.5, 0.9, 0.2, -0.5, -1.7].map((l, i) => [i, l] as const);

function draws(options: { seedKey: string; temperature: number; topP: number; topK?: number; n: number }): number[] {
  const out: number[] = [];
  for (let t = 0; t < options.n; t++) out.push(seededSample({ sampling: options, position: t, candidates: LOGITS }));
  return out;
}

test("the same seed key gives the same tokens, another key other tokens", () => {
  const a = draws({ seedKey: KEY_A, temperature: 1, topP: 1, n: 200 });
  const b = draws({ seedKey: KEY_A, temperature: 1, topP: 1, n: 200 });
  const c = draws({ seedKey: KEY_B, temperature: 1, topP: 1, n: 200 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test("the noise is bounded as stated and the bits are in range", () => {
  assert.ok(GUMBEL_MAX > 37.4 && GUMBEL_MAX < 37.5);
  assert.ok(GUMBEL_MIN > -3.63 && GUMBEL_MIN < -3.61);
  for (let t = 0; t < 50; t++) {
    const key = noiseKey(KEY_A, t);
    for (let token = 0; token < 200; token++) {
      const n = noiseBits(key, token);
      assert.ok(Number.isInteger(n) && n >= 0 && n < 2 ** 53);
      const g = gumbel(key, token);
      assert.ok(g >= GUMBEL_MIN && g <= GUMBEL_MAX);
    }
  }
});

/** Pearson χ² of observed counts against expected probabilities. */
function chiSquare(counts: number[], probs: number[], n: number): number {
  let x = 0;
  for (let i = 0; i < probs.length; i++) {
    const e = probs[i]! * n;
    x += (counts[i]! - e) ** 2 / e;
  }
  return x;
}

function softmax(logits: number[], temperature: number): number[] {
  const max = Math.max(...logits);
  const w = logits.map((l) => Math.exp((l - max) / temperature));
  const z = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / z);
}

test("draws follow softmax(logits / T) restricted to the top-k / top-p cut (χ² with fixed seeds)", () => {
  const n = 20_000;
  const cases = [
    { temperature: 1, topP: 1, topK: 0, kept: 8 },
    { temperature: 0.7, topP: 1, topK: 0, kept: 8 },
    { temperature: 1, topP: 1, topK: 3, kept: 3 },
    // Raw masses 0.43, 0.22, 0.18, 0.09, ...: top-p 0.8 keeps three tokens, 0.9 four.
    { temperature: 1.3, topP: 0.8, topK: 0, kept: 3 },
    { temperature: 1, topP: 0.9, topK: 0, kept: 4 },
    { temperature: 1, topP: 0.8, topK: 2, kept: 2 },
  ];
  for (const c of cases) {
    const allowed = allowedCandidates({ sorted: sortCandidates(LOGITS), topP: c.topP, topK: c.topK });
    assert.equal(allowed.length, c.kept, JSON.stringify(c));
    const probs = softmax(
      allowed.map(([, l]) => l),
      c.temperature,
    );
    const counts = new Array<number>(c.kept).fill(0);
    for (const token of draws({ seedKey: KEY_A, ...c, n })) {
      assert.ok(token < c.kept, `token ${token} outside the cut`);
      counts[token]!++;
    }
    // χ² critical values at p = 0.001 for kept − 1 degrees of freedom.
    const critical = [0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32][c.kept - 1]!;
    const x = chiSquare(counts, probs, n);
    assert.ok(x < critical, `χ² ${x.toFixed(2)} ≥ ${critical} for ${JSON.stringify(c)}: ${counts}`);
  }
});

test("temperature 0 is greedy whatever the key", () => {
  for (const seedKey of [KEY_A, KEY_B]) {
    assert.deepEqual(draws({ seedKey, temperature: 0, topP: 0.5, n: 20 }), new Array(20).fill(0));
  }
});

test("top-p uses the full-vocabulary normaliser when given", () => {
  const sorted = sortCandidates(LOGITS.slice(0, 2));
  // Two listed tokens, but the vocabulary's weight is far larger: their mass stays under 0.5.
  const max = sorted[0]![1];
  const listed = sorted.reduce((a, [, l]) => a + Math.exp(l - max), 0);
  assert.equal(allowedCandidates({ sorted, topP: 0.5 }).length, 1);
  assert.equal(allowedCandidates({ sorted, topP: 0.5, totalLogitWeight: listed * 4 }).length, 2);
});

test("at most SEEDED_CANDIDATES candidates; the pruning bound never changes the draw", () => {
  const wide: Candidate[] = Array.from({ length: 3000 }, (_, i) => [i, -i * 0.01] as const);
  assert.equal(allowedCandidates({ sorted: wide, topP: 1 }).length, SEEDED_CANDIDATES);
  // Brute force over every allowed candidate equals the pruned scan.
  for (let t = 0; t < 100; t++) {
    const sampling = { seedKey: KEY_B, temperature: 0.9, topP: 1 };
    const key = noiseKey(KEY_B, t);
    let best = -Infinity;
    let bestToken = -1;
    for (const [token, logit] of allowedCandidates({ sorted: wide, topP: 1 })) {
      const s = logit + 0.9 * gumbel(key, token);
      if (s > best) {
        best = s;
        bestToken = token;
      }
    }
    assert.equal(seededSample({ sampling, position: t, candidates: wide }), bestToken);
  }
});

test("the margin is 0 for the token the sampler drew and positive for another", () => {
  const sampling = { seedKey: KEY_A, temperature: 1, topP: 0.95 };
  for (let t = 0; t < 50; t++) {
    const token = seededSample({ sampling, position: t, candidates: LOGITS });
    const own = seededMargin({ sampling, position: t, candidates: LOGITS, token, tokenLogit: LOGITS[token]![1] });
    assert.deepEqual(own, { margin: 0, inAllowed: true });
    const other = (token + 1) % LOGITS.length;
    const m = seededMargin({ sampling, position: t, candidates: LOGITS, token: other, tokenLogit: LOGITS[other]![1] });
    assert.ok(m.margin > 0);
  }
  const greedy = seededMargin({
    sampling: { ...sampling, temperature: 0 },
    position: 0,
    candidates: LOGITS,
    token: 1,
    tokenLogit: 2.4,
  });
  assert.ok(Math.abs(greedy.margin - 0.7) < 1e-9);
});

test("the replay cut widens top-p and top-k boundaries by the stated slack", () => {
  const sorted = sortCandidates(LOGITS);
  // Raw masses 0.43, 0.22, 0.18, 0.09, ...: at top-p 0.83 token 2 is kept (0.65 before it), token 3
  // is kept only if the mass before it (0.824) were under 0.83 − slack: it is possible, not sure.
  const exact = allowedCandidates({ sorted, topP: 0.83 });
  assert.equal(exact.length, 4);
  const cut = replayCut({ sorted, topP: 0.83 });
  assert.equal(cut.sure.length, 3);
  assert.equal(cut.possible.length, 4);
  assert.ok(TOP_P_SLACK > 0.006);
  // Top-k 2 with the 2nd and 3rd logits 0.2 apart: no ambiguity; 0.01 apart: both uncertain.
  assert.deepEqual(
    [replayCut({ sorted, topP: 1, topK: 2 }).sure.length, replayCut({ sorted, topP: 1, topK: 2 }).possible.length],
    [2, 2],
  );
  const close = sortCandidates([
    [0, 1],
    [1, 0.5],
    [2, 0.49],
  ]);
  const c2 = replayCut({ sorted: close, topP: 1, topK: 2 });
  assert.deepEqual([c2.sure.length, c2.possible.length], [1, 3]);
});

test("a token outside the widened cut gets the outside margin; greedy ignores the cut", () => {
  const sampling = { seedKey: KEY_A, temperature: 1, topP: 0.5 };
  const m = seededMargin({ sampling, position: 3, candidates: LOGITS, token: 7, tokenLogit: LOGITS[7]![1] });
  assert.deepEqual(m, { margin: OUTSIDE_CUT_MARGIN, inAllowed: false });
  const g = seededMargin({
    sampling: { ...sampling, temperature: 0 },
    position: 3,
    candidates: LOGITS,
    token: 7,
    tokenLogit: LOGITS[7]![1],
  });
  assert.ok(Math.abs(g.margin - 4.8) < 1e-9);
});
