import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Engine, GenerateResult, TokenScore } from "./engine.ts";
import { createTestEngine } from "./test-engine.ts";
import { TEST_MODELS } from "./test-models.ts";

const engines = new Map<string, Engine>();
const engine = (name: string) => engines.get(name)!;
let greedy: GenerateResult;
let sampled: GenerateResult;

before(async () => {
  for (const name of Object.keys(TEST_MODELS)) engines.set(name, await createTestEngine({ name }));
  const prompt = { messages: [{ role: "user" as const, content: "What is the capital of France?" }] };
  greedy = await engine("verity-tiny").generate({ prompt, sampling: { temperature: 0, maxTokens: 64 } });
  sampled = await engine("verity-tiny").generate({ prompt, sampling: { temperature: 1, seed: 7, maxTokens: 64 } });
});
after(async () => {
  for (const e of engines.values()) await e.close();
});

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const probabilities = (scores: TokenScore[]) => scores.map((s) => s.probability);

async function rescore(name: string, of: GenerateResult, topK?: number) {
  const { scores } = await engine(name).rescore({
    promptTokens: of.promptTokens,
    outputTokens: of.outputTokens,
    ...(topK === undefined ? {} : { topK }),
  });
  assert.equal(scores.length, of.outputTokens.length);
  return scores;
}

test("the model's own greedy output ranks first at (nearly) every position", async (t) => {
  const scores = await rescore("verity-tiny", greedy, 3);
  const rank1 = scores.filter((s) => s.rank === 1).length / scores.length;
  assert.ok(rank1 >= 0.95, `verity-tiny rank-1 fraction ${rank1}`);
  for (const [i, s] of scores.entries()) {
    assert.equal(s.token, greedy.outputTokens[i]);
    assert.ok(s.logprob <= 0 && Math.abs(Math.exp(s.logprob) - s.probability) < 1e-12);
    assert.equal(s.top?.length, 3);
    assert.ok(s.top![0]!.logprob >= s.top![1]!.logprob && s.top![1]!.logprob >= s.top![2]!.logprob);
    if (s.rank === 1) assert.ok(Math.abs(s.top![0]!.logprob - s.logprob) < 1e-6);
  }
  // Every model against its own greedy output. Batched prefill and single-token decoding round
  // differently, so near-ties may flip: "nearly" every token.
  const prompt = { messages: [{ role: "user" as const, content: "Tell me a story about the sea." }] };
  for (const name of engines.keys()) {
    const own = await engine(name).generate({ prompt, sampling: { temperature: 0, maxTokens: 64 } });
    const ranks = (await rescore(name, own)).map((s) => s.rank);
    const rank1 = ranks.filter((r) => r === 1).length / ranks.length;
    t.diagnostic(
      `${name}: rank-1 fraction ${rank1.toFixed(3)} over ${ranks.length} tokens, worst rank ${Math.max(...ranks)}`,
    );
    assert.ok(rank1 >= 0.85, `${name} rank-1 fraction ${rank1}`);
    assert.ok(Math.max(...ranks) <= 5, `${name} ranks ${ranks}`);
  }
});

test("rescoring is deterministic", async () => {
  assert.deepEqual(await rescore("verity-tiny", sampled), await rescore("verity-tiny", sampled));
});

test("a cheaper substitute model scores the same tokens much lower", async (t) => {
  for (const result of [greedy, sampled]) {
    const own = mean(probabilities(await rescore("verity-tiny", result)));
    const sub = mean(probabilities(await rescore("verity-tiny-sub", result)));
    t.diagnostic(`mean probability: verity-tiny ${own.toFixed(4)}, verity-tiny-sub ${sub.toFixed(4)}`);
    assert.ok(own > sub * 2, `${own} vs ${sub}`);
  }
});

test("Q8_0 stays close to F16; Q4_0 is measurably different", async (t) => {
  const f16 = probabilities(await rescore("verity-tiny", sampled));
  const mad = (name: string) =>
    rescore(name, sampled).then((scores) => mean(probabilities(scores).map((p, i) => Math.abs(p - f16[i]!))));
  const q8 = await mad("verity-tiny-q8");
  const q4 = await mad("verity-tiny-q4");
  const sub = await mad("verity-tiny-sub");
  t.diagnostic(`mean |Δp| vs F16: Q8_0 ${q8.toFixed(5)}, Q4_0 ${q4.toFixed(5)}, substitute ${sub.toFixed(5)}`);
  assert.ok(q8 > 0, "Q8_0 differs from F16 at all");
  assert.ok(q8 < 0.03, `Q8_0 mean |Δp| ${q8}`);
  assert.ok(q4 > 3 * q8, `Q4_0 ${q4} vs Q8_0 ${q8}`);
  assert.ok(sub > q4, `substitute ${sub} vs Q4_0 ${q4}`);
});

test("rescoring nothing evaluates nothing", async () => {
  assert.deepEqual(await engine("verity-tiny").rescore({ promptTokens: [1, 2], outputTokens: [] }), { scores: [] });
});
