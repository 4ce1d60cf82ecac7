import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { hashParams, hashTokens } from "@verity/core";
import { createTestEngine, type Engine } from "@verity/engine";
import { type AuditTranscript, auditTranscript, controlTokensOf, judge, summarize } from "./audit-verdict.ts";
import { makePrompt } from "./calibrate.ts";
import { tokenStats } from "./token-stats.ts";

const engines = new Map<string, Engine>();
let validator: Engine;
/** The validator's own copy of the 4-bit quantisation, for the optional likelihood-ratio test. */
let suspect: Engine;

async function engine(name: string): Promise<Engine> {
  let e = engines.get(name);
  if (!e) {
    e = await createTestEngine({ name });
    engines.set(name, e);
  }
  return e;
}

async function transcript(model: string, i: number, sampling: Omit<AuditTranscript["sampling"], "stop" | "maxTokens">) {
  const params: AuditTranscript["sampling"] = { ...sampling, maxTokens: 300, stop: [] };
  const result = await (await engine(model)).generate({
    prompt: { messages: [{ role: "user", content: makePrompt(1000 + i) }] },
    sampling: { ...params, stop: [] },
  });
  return { promptTokens: result.promptTokens, outputTokens: result.outputTokens, sampling: params };
}

function commitments(t: AuditTranscript) {
  return {
    promptHash: hashTokens(t.promptTokens),
    outputHash: hashTokens(t.outputTokens),
    paramsHash: hashParams(t.sampling),
  };
}

// Settings where the calibration measures full detection of every substitute (greedy, top-p 0.9)
// plus plain sampling for honest and grossly different substitutes.
const SETTINGS = [
  { temperature: 0, topP: 1 },
  { temperature: 0.7, topP: 0.9 },
  { temperature: 1, topP: 0.9 },
  { temperature: 0.7, topP: 1 },
  { temperature: 1, topP: 1 },
];

before(async () => {
  validator = await createTestEngine({ name: "verity-tiny" });
  suspect = await createTestEngine({ name: "verity-tiny-q4" });
});

after(async () => {
  for (const e of engines.values()) await e.close();
  await validator.close();
  await suspect.close();
});

describe("audit verdict", () => {
  test("honest transcripts pass, with every receipt commitment matching", async () => {
    for (const [i, s] of SETTINGS.entries()) {
      for (const seed of [11, 12]) {
        const t = await transcript("verity-tiny", i * 10 + seed, { ...s, seed });
        const verdict = await auditTranscript({ engine: validator, transcript: t, receipt: commitments(t) });
        assert.ok(verdict.pass, `${JSON.stringify(s)} seed ${seed}: ${verdict.details.join("; ")}`);
        assert.ok(verdict.score > 0 && verdict.score <= 1);
        const withSuspect = await auditTranscript({ engine: validator, transcript: t, suspects: [suspect] });
        assert.ok(
          withSuspect.pass,
          `${JSON.stringify(s)} seed ${seed} with suspect: ${withSuspect.details.join("; ")}`,
        );
        assert.ok((withSuspect.stats.suspectLlr["verity-tiny-q4"] ?? Number.NaN) > -9);
      }
    }
  });

  test("a different model fails", async () => {
    for (const [i, s] of SETTINGS.entries()) {
      const t = await transcript("verity-tiny-sub", i, { ...s, seed: 5 });
      const verdict = await auditTranscript({ engine: validator, transcript: t });
      assert.equal(verdict.pass, false, JSON.stringify(s));
    }
  });

  test("the 4-bit quantisation fails greedy and top-p outputs", async () => {
    for (const [i, s] of SETTINGS.slice(0, 3).entries()) {
      const t = await transcript("verity-tiny-q4", i, { ...s, seed: 7 });
      const verdict = await auditTranscript({ engine: validator, transcript: t });
      assert.equal(verdict.pass, false, `${JSON.stringify(s)} (${t.outputTokens.length} tokens)`);
    }
  });

  test("with the 4-bit model as suspect, 4-bit outputs of 100+ tokens fail at every setting", async () => {
    for (const [i, s] of SETTINGS.entries()) {
      // Evidence grows with length: take the first prompt/seed whose output reaches 100 tokens (measured: all fail).
      let t = await transcript("verity-tiny-q4", 20 + i, { ...s, seed: 9 });
      for (let k = 1; t.outputTokens.length < 100; k++) {
        assert.ok(k < 40, "no 100-token output found");
        t = await transcript("verity-tiny-q4", 20 + i + 100 * k, { ...s, seed: 9 + k });
      }
      const verdict = await auditTranscript({ engine: validator, transcript: t, suspects: [suspect] });
      assert.equal(verdict.pass, false, `${JSON.stringify(s)} (${t.outputTokens.length} tokens)`);
    }
  });

  test("random tokens and shuffled honest tokens fail", async () => {
    const control = controlTokensOf(validator);
    const plain = [...Array(validator.vocabSize).keys()].filter((t) => !control.has(t));
    for (const [i, s] of SETTINGS.entries()) {
      const honest = await transcript("verity-tiny", 50 + i, { ...s, seed: 3 });
      const random = honest.outputTokens.map((_, k) => plain[(k * 7919 + i * 31) % plain.length]!);
      const body = honest.outputTokens.slice(0, -1).reverse();
      const shuffled = [...body, ...honest.outputTokens.slice(-1)];
      for (const outputTokens of [random, shuffled]) {
        const verdict = await auditTranscript({ engine: validator, transcript: { ...honest, outputTokens } });
        assert.equal(verdict.pass, false, JSON.stringify(s));
      }
    }
  });

  test("a transcript that differs from its receipt is receipt_mismatch", async () => {
    const t = await transcript("verity-tiny", 70, { temperature: 0, topP: 1, seed: 1 });
    const receipt = commitments(t);
    const altered = { ...t, outputTokens: [...t.outputTokens] };
    altered.outputTokens[0] = (altered.outputTokens[0]! + 1) % validator.vocabSize;
    const v1 = await auditTranscript({ engine: validator, transcript: altered, receipt });
    assert.ok(v1.reasons.includes("receipt_mismatch"));
    const v2 = await auditTranscript({
      engine: validator,
      transcript: { ...t, sampling: { ...t.sampling, seed: 2 } },
      receipt,
    });
    assert.deepEqual(v2.reasons, ["receipt_mismatch"]);
    assert.ok(v2.details.some((d) => d.includes("paramsHash")));
  });

  test("an output cut short without end of generation, or ended where EOS is implausible, fails", async () => {
    const t = await transcript("verity-tiny", 80, { temperature: 0, topP: 1, seed: 1 });
    assert.ok(t.outputTokens.length > 12);
    const eos = t.outputTokens.at(-1)!;
    assert.ok(controlTokensOf(validator).has(eos), "greedy output ends with an end-of-generation token");
    const cut = await auditTranscript({
      engine: validator,
      transcript: { ...t, outputTokens: t.outputTokens.slice(0, 10) },
    });
    assert.deepEqual(cut.reasons, ["truncated_output"]);
    const early = await auditTranscript({
      engine: validator,
      transcript: { ...t, outputTokens: [...t.outputTokens.slice(0, 10), eos] },
    });
    assert.ok(
      early.reasons.includes("implausible_eos") || early.reasons.includes("greedy_not_top1"),
      early.details.join("; "),
    );
  });
});

describe("seed-synced audits (DiFR)", () => {
  const seedKey = (i: number): `0x${string}` => `0x${(i + 1).toString(16).padStart(2, "0").repeat(32)}`;

  test("honest seed-synced outputs pass with seeded statistics; 4- and 8-bit ones with the same key fail", async () => {
    let q8Caught = 0;
    for (const [i, s] of SETTINGS.entries()) {
      const sampling = { ...s, seed: 1, seedKey: seedKey(i) };
      const honest = await transcript("verity-tiny", 300 + i, sampling);
      const verdict = await auditTranscript({ engine: validator, transcript: honest });
      assert.ok(verdict.pass, `${JSON.stringify(s)}: ${verdict.details.join("; ")}`);
      assert.equal(verdict.stats.seeded?.tokens, honest.outputTokens.length);
      assert.equal(verdict.stats.seeded?.flips, 0);
      const q4 = await transcript("verity-tiny-q4", 300 + i, sampling);
      const q4Verdict = await auditTranscript({ engine: validator, transcript: q4 });
      assert.ok(q4Verdict.reasons.includes("seeded_token_mismatch"), `q4 ${JSON.stringify(s)}`);
      for (let k = 0; k < 3; k++) {
        const q8 = await transcript("verity-tiny-q8", 400 + i * 3 + k, { ...sampling, seedKey: seedKey(10 + k) });
        const q8Verdict = await auditTranscript({ engine: validator, transcript: q8 });
        if (q8Verdict.reasons.includes("seeded_token_mismatch")) q8Caught++;
      }
    }
    // Measured per audit ≈ 0.6 on these short outputs (the 8-bit flip rate is ~3 % of tokens).
    assert.ok(q8Caught >= 3, `q8 caught in ${q8Caught} of 15 audits`);
  });

  test("without seeded margins (no seed key, or an engine that cannot replay) no seeded check runs", () => {
    const top = [
      { token: 0, logprob: Math.log(0.6) },
      { token: 1, logprob: Math.log(0.4) },
    ];
    const base = { token: 0, logprob: Math.log(0.6), probability: 0.6, rank: 1, top };
    const sampling = { temperature: 1, topP: 1 };
    const unseeded = summarize(tokenStats([base, base], sampling), { sampling });
    assert.equal(unseeded.seeded, undefined);
    const seeded = summarize(
      tokenStats(
        [
          { ...base, seeded: { margin: 0, inAllowed: true } },
          { ...base, seeded: { margin: 0.4, inAllowed: true } },
        ],
        sampling,
      ),
      { sampling, seededTolerance: 0.05 },
    );
    assert.deepEqual(seeded.seeded, { tokens: 2, flips: 1, marginSum: 0.4, maxMargin: 0.4 });
    assert.ok(judge(seeded).reasons.includes("seeded_token_mismatch"));
    // Half the tokens without margins: the check is not run rather than run on part of the output.
    const partial = summarize(tokenStats([base, { ...base, seeded: { margin: 0.4, inAllowed: true } }], sampling), {
      sampling,
    });
    assert.equal(partial.seeded, undefined);
  });
});

describe("token statistics", () => {
  const top = [0.5, 0.3, 0.15, 0.05].map((p, token) => ({ token, logprob: Math.log(p) }));
  const score = (token: number, rank: number) => ({
    token,
    logprob: top[token]!.logprob,
    probability: Math.exp(top[token]!.logprob),
    rank,
    top,
  });

  test("nucleus and temperature follow llama.cpp's order (top-p on raw probabilities, then temperature)", () => {
    const [inside, outside] = tokenStats([score(1, 2), score(2, 3)], { temperature: 1, topP: 0.75 });
    // Nucleus {0, 1} (0.5 + 0.3 ≥ 0.75): token 1 has 0.3 / 0.8, token 2 is outside.
    assert.ok(Math.abs(inside!.sampledLogprob! - Math.log(0.3 / 0.8)) < 1e-12);
    assert.equal(outside!.sampledLogprob, null);
    assert.ok(Math.abs(outside!.massAbove - 0.8) < 1e-12);
    const [cold] = tokenStats([score(0, 1)], { temperature: 0.5, topP: 1 });
    const z = 0.5 ** 2 + 0.3 ** 2 + 0.15 ** 2 + 0.05 ** 2;
    assert.ok(Math.abs(cold!.sampledLogprob! - Math.log(0.25 / z)) < 1e-12);
  });

  test("greedy: rank 1 agrees, anything else is a flip with its logprob gap", () => {
    const stats = tokenStats([score(0, 1), score(1, 2)], { temperature: 0, topP: 1 });
    const summary = summarize(stats, { sampling: { temperature: 0, topP: 1 } });
    assert.equal(summary.nonTop1Share, 0.5);
    assert.ok(Math.abs(summary.nonTop1Gaps[0]! - Math.log(0.5 / 0.3)) < 1e-12);
    assert.equal(judge(summary).pass, false);
  });
});
