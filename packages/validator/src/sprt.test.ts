import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  auditLlr,
  DEFAULT_SPRT,
  expectedAudits,
  type PooledAudit,
  pooledOutcome,
  pooledState,
  runSprt,
  type SprtParams,
  sprtBounds,
  sprtParamsProblem,
} from "./sprt.ts";

/** mulberry32: a seeded uniform generator in [0, 1). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `runs` independent tests on a provider whose true rate is `rate`; returns the decisions. */
function simulate(args: { params: SprtParams; rate: number; tokens: number; runs: number; seed: number }) {
  const random = seeded(args.seed);
  const out = { substitute: 0, honest: 0, continue: 0, audits: 0 };
  for (let r = 0; r < args.runs; r++) {
    const audits = function* () {
      for (let i = 0; i < 10_000; i++) {
        let flips = 0;
        if (args.params.mode === "flips") for (let t = 0; t < args.tokens; t++) flips += random() < args.rate ? 1 : 0;
        const failed = args.params.mode === "audits" ? random() < args.rate : flips > 0;
        yield { tokens: args.tokens, flips, failed };
      }
    };
    const result = runSprt({ params: args.params, audits: [...take(audits(), 10_000, args.params)] });
    out[result.decision]++;
    out.audits += result.used;
  }
  return out;
}

/** Draws audits lazily until the test decides (so a run costs only the audits it needs). */
function* take(source: Iterable<Omit<PooledAudit, "id">>, max: number, params: SprtParams) {
  const { upper, lower } = sprtBounds(params);
  let s = 0;
  let n = 0;
  for (const a of source) {
    yield a;
    s += auditLlr(params, a);
    if (s >= upper || s <= lower || ++n >= max) return;
  }
}

const RUNS = 10_000;

describe("Wald SPRT over audits", () => {
  it("derives Wald's bounds from α and β", () => {
    const { upper, lower } = sprtBounds({ alpha: 0.001, beta: 0.01 });
    assert.equal(upper, Math.log(0.99 / 0.001));
    assert.equal(lower, Math.log(0.01 / 0.999));
  });

  it("keeps false accusations and misses within the stated α and β (flips per token, 10,000 runs each)", (t) => {
    const params: SprtParams = { ...DEFAULT_SPRT, alpha: 0.01, beta: 0.05 };
    const honest = simulate({ params, rate: params.p0, tokens: 300, runs: RUNS, seed: 1 });
    const cheat = simulate({ params, rate: params.p1, tokens: 300, runs: RUNS, seed: 2 });
    assert.equal(honest.continue, 0);
    assert.equal(cheat.continue, 0);
    // Wald: α' ≤ α/(1 − β), β' ≤ β/(1 − α) — at the boundary rates, the hardest case.
    assert.ok(honest.substitute / RUNS <= params.alpha / (1 - params.beta), `false accusations ${honest.substitute}`);
    assert.ok(cheat.honest / RUNS <= params.beta / (1 - params.alpha), `misses ${cheat.honest}`);
    t.diagnostic(`α = 0.01, β = 0.05: false accusations ${honest.substitute}/${RUNS}, misses ${cheat.honest}/${RUNS}`);
  });

  it("keeps the defaults' error rates within α = 10⁻³ and β = 10⁻² (10,000 runs each)", (t) => {
    const params = DEFAULT_SPRT;
    const honest = simulate({ params, rate: params.p0, tokens: 300, runs: RUNS, seed: 3 });
    const cheat = simulate({ params, rate: params.p1, tokens: 300, runs: RUNS, seed: 4 });
    assert.ok(honest.substitute / RUNS <= params.alpha / (1 - params.beta), `false accusations ${honest.substitute}`);
    assert.ok(cheat.honest / RUNS <= params.beta / (1 - params.alpha), `misses ${cheat.honest}`);
    // Wald's approximation of the audits a decision takes ignores the overshoot: a lower bound here.
    const e1 = expectedAudits({ params, rate: params.p1, tokens: 300, decideSubstitute: 1 - params.beta });
    assert.ok(cheat.audits / RUNS >= e1 && cheat.audits / RUNS < 3 * e1, `E1[N] ${cheat.audits / RUNS} vs ${e1}`);
    t.diagnostic(
      `defaults, 300 tokens/audit: false accusations ${honest.substitute}/${RUNS}, misses ${cheat.honest}/${RUNS}, ` +
        `audits to a decision: honest ${honest.audits / RUNS}, substitute at p1 ${cheat.audits / RUNS}`,
    );
  });

  it("is at least as strict away from the boundary rates (noise-free honest, 4-bit-like substitute)", () => {
    const params = DEFAULT_SPRT;
    assert.equal(simulate({ params, rate: 0, tokens: 300, runs: 2_000, seed: 5 }).substitute, 0);
    assert.equal(simulate({ params, rate: 0.1, tokens: 300, runs: 2_000, seed: 6 }).honest, 0);
  });

  it("pools per-audit pass/fail with its own rates (audits mode)", (t) => {
    const params: SprtParams = { ...DEFAULT_SPRT, mode: "audits", p0: 0.001, p1: 0.155, alpha: 0.001, beta: 0.01 };
    const honest = simulate({ params, rate: params.p0, tokens: 300, runs: RUNS, seed: 7 });
    const cheat = simulate({ params, rate: params.p1, tokens: 300, runs: RUNS, seed: 8 });
    assert.ok(honest.substitute / RUNS <= params.alpha / (1 - params.beta), `false accusations ${honest.substitute}`);
    assert.ok(cheat.honest / RUNS <= params.beta / (1 - params.alpha), `misses ${cheat.honest}`);
    t.diagnostic(
      `audits mode p0 = 0.001, p1 = 0.155: false accusations ${honest.substitute}/${RUNS}, misses ${cheat.honest}/${RUNS}, ` +
        `audits to a decision: honest ${honest.audits / RUNS}, substitute ${cheat.audits / RUNS}`,
    );
  });

  it("decides from the ordered list alone and stops at the first crossing", () => {
    const id = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as const;
    const audits: PooledAudit[] = [
      { id: id(1), tokens: 300, flips: 0, failed: false },
      { id: id(2), tokens: 300, flips: 0, failed: false },
      { id: id(3), tokens: 300, flips: 0, failed: false },
      { id: id(4), tokens: 300, flips: 6, failed: true },
      { id: id(5), tokens: 300, flips: 1, failed: false },
      { id: id(6), tokens: 300, flips: 0, failed: false },
    ];
    const a = pooledState({ params: DEFAULT_SPRT, audits });
    const b = pooledState({ params: DEFAULT_SPRT, audits: structuredClone(audits) });
    assert.deepEqual(a, b);
    assert.equal(a.honestEpochs, 1);
    // Two clean audits end the first test (S = −5.4 ≤ B = −4.6); audit 4 crosses A in the second.
    assert.equal(a.substitute.length, 1);
    assert.deepEqual(a.substitute[0]?.ids, [id(3), id(4)]);
    assert.equal(a.substitute[0]?.start, 2);
    // A new test starts after the decision.
    assert.deepEqual(a.current.ids, [id(5), id(6)]);
    assert.equal(a.audits, 6);
    const weak = runSprt({ params: DEFAULT_SPRT, audits: [{ tokens: 300, flips: 2, failed: true }] });
    assert.equal(weak.decision, "continue");
  });

  it("reads outcomes from verdicts and refuses unusable parameters", () => {
    const seeded = { tokens: 300, flips: 2, marginSum: 1.5, maxMargin: 0.9 };
    assert.deepEqual(pooledOutcome({ id: "0x01", mode: "flips", pass: true, seeded }), {
      id: "0x01",
      tokens: 300,
      flips: 2,
      failed: false,
    });
    assert.equal(pooledOutcome({ id: "0x01", mode: "flips", pass: false }), null);
    assert.equal(pooledOutcome({ id: "0x01", mode: "audits", pass: false })?.failed, true);
    assert.equal(sprtParamsProblem(DEFAULT_SPRT), null);
    assert.match(sprtParamsProblem({ ...DEFAULT_SPRT, p1: 1e-4 }) ?? "", /p0 < p1/);
    assert.match(sprtParamsProblem({ ...DEFAULT_SPRT, alpha: 0 }) ?? "", /α/);
  });
});
