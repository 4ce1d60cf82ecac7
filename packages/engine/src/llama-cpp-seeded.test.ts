import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Engine, GenerateChunk } from "./engine.ts";
import { createLlamaCppEngine } from "./llama-cpp-engine.ts";
import { ensureTestModel } from "./test-models.ts";

const KEY_A = `0x${"a5".repeat(32)}`;
const KEY_B = `0x${"5a".repeat(32)}`;
const chat = { messages: [{ role: "user" as const, content: "Tell me a story about the sea and a ship." }] };
/** Far above llama.cpp's numerical noise, far below a substitute's typical margins. */
const TOLERANCE = 0.05;

let reference: Engine;
let q4: Engine;
before(async () => {
  reference = await createLlamaCppEngine({ modelPath: await ensureTestModel({ name: "verity-tiny" }) });
  q4 = await createLlamaCppEngine({ modelPath: await ensureTestModel({ name: "verity-tiny-q4" }) });
});
after(async () => {
  await reference.close();
  await q4.close();
});

async function generate(engine: Engine, sampling: Record<string, unknown>, signal?: AbortSignal) {
  const chunks: GenerateChunk[] = [];
  const result = await engine.generate({
    prompt: chat,
    sampling: { maxTokens: 120, ...sampling },
    onChunk: (chunk) => void chunks.push(chunk),
    ...(signal ? { signal } : {}),
  });
  assert.equal(chunks.map((c) => c.text).join(""), result.text);
  assert.deepEqual(
    chunks.flatMap((c) => c.tokens),
    result.outputTokens,
  );
  return result;
}

async function margins(
  result: { promptTokens: number[]; outputTokens: number[] },
  seeded: { seedKey: string; temperature: number; topP: number; topK?: number },
) {
  const { scores } = await reference.rescore({
    promptTokens: result.promptTokens,
    outputTokens: result.outputTokens,
    seeded,
  });
  return scores.map((s) => s.seeded!.margin);
}

test("a seed key reproduces the same tokens; another key gives others; llama's seed is unused", async () => {
  const sampling = { temperature: 1, topP: 0.95, seedKey: KEY_A };
  const a = await generate(reference, { ...sampling, seed: 1 });
  const b = await generate(reference, { ...sampling, seed: 2 });
  const c = await generate(reference, { ...sampling, seedKey: KEY_B });
  assert.deepEqual(a.outputTokens, b.outputTokens);
  assert.notDeepEqual(a.outputTokens, c.outputTokens);
});

test("honest seeded generations rescore with margins under the tolerance; q4 with the same key is flagged", async () => {
  const settings = [
    { temperature: 1, topP: 1 },
    { temperature: 0.7, topP: 0.9 },
    { temperature: 1, topP: 1, topK: 40 },
    { temperature: 0, topP: 1 },
  ];
  let q4Flips = 0;
  let q4Tokens = 0;
  for (const setting of settings) {
    const seeded = { seedKey: KEY_A, ...setting };
    const honest = await generate(reference, { ...seeded, maxTokens: 200 });
    const honestMargins = await margins(honest, seeded);
    assert.equal(honestMargins.length, honest.outputTokens.length);
    assert.ok(Math.max(...honestMargins) <= TOLERANCE, `honest margin ${Math.max(...honestMargins)} (${setting})`);
    const cheat = await generate(q4, { ...seeded, maxTokens: 200 });
    const cheatMargins = await margins(cheat, seeded);
    q4Flips += cheatMargins.filter((m) => m > TOLERANCE).length;
    q4Tokens += cheatMargins.length;
  }
  assert.ok(q4Tokens > 0);
  assert.ok(q4Flips >= 1, `q4 flipped ${q4Flips} of ${q4Tokens} tokens`);
});

test("stop sequences, maxTokens and abort behave as without a seed key", async () => {
  const seeded = { seedKey: KEY_B, temperature: 0.8, topP: 1 };
  const short = await generate(reference, { ...seeded, maxTokens: 5 });
  assert.equal(short.outputTokens.length, 5);
  assert.equal(short.finishReason, "length");
  const long = await generate(reference, { ...seeded, maxTokens: 60 });
  const piece = long.text.slice(10, 12);
  if (piece.length === 2) {
    const stopped = await generate(reference, { ...seeded, maxTokens: 60, stop: [piece] });
    assert.equal(stopped.finishReason, "stop");
    assert.ok(!stopped.text.includes(piece));
    assert.ok(long.text.startsWith(stopped.text));
  }
  const controller = new AbortController();
  const chunks: number[] = [];
  const aborted = await reference.generate({
    prompt: chat,
    sampling: { ...seeded, maxTokens: 100 },
    signal: controller.signal,
    onChunk: (chunk) => {
      chunks.push(...chunk.tokens);
      if (chunks.length >= 3) controller.abort();
    },
  });
  assert.equal(aborted.finishReason, "abort");
  assert.ok(aborted.outputTokens.length < 100);
});

test("a malformed seed key is rejected", async () => {
  await assert.rejects(generate(reference, { temperature: 1, seedKey: "0x1234" }), /Invalid sampling/);
  await assert.rejects(
    reference.rescore({ promptTokens: [1], outputTokens: [2], seeded: { seedKey: "nope", temperature: 1, topP: 1 } }),
    /Invalid seeded/,
  );
});
