import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Engine, GenerateChunk, GenerateRequest } from "./engine.ts";
import { createTestEngine } from "./test-engine.ts";
import { testTokenizer } from "./test-tokenizer.ts";

let engine: Engine;
before(async () => {
  engine = await createTestEngine({ name: "verity-tiny" });
});
after(async () => {
  await engine.close();
});

const chat = { messages: [{ role: "user" as const, content: "Tell me a story about the sea." }] };

async function generate(request: Omit<GenerateRequest, "onChunk">) {
  const chunks: GenerateChunk[] = [];
  const result = await engine.generate({ ...request, onChunk: (chunk) => void chunks.push(chunk) });
  // Streaming invariants: chunks add up to the result; usage counts the token arrays.
  assert.equal(chunks.map((c) => c.text).join(""), result.text);
  assert.deepEqual(
    chunks.flatMap((c) => c.tokens),
    result.outputTokens,
  );
  assert.deepEqual(result.usage, {
    promptTokens: result.promptTokens.length,
    completionTokens: result.outputTokens.length,
  });
  return { ...result, chunks };
}

test("a fixed seed reproduces the same tokens; another seed gives others", async () => {
  const sampling = { temperature: 1, topP: 0.95, maxTokens: 40 };
  const a = await generate({ prompt: chat, sampling: { ...sampling, seed: 42 } });
  const b = await generate({ prompt: chat, sampling: { ...sampling, seed: 42 } });
  const c = await generate({ prompt: chat, sampling: { ...sampling, seed: 43 } });
  assert.deepEqual(a.outputTokens, b.outputTokens);
  assert.equal(a.text, b.text);
  assert.notDeepEqual(a.outputTokens, c.outputTokens);
});

test("temperature 0 is greedy: independent of the seed", async () => {
  const a = await generate({ prompt: chat, sampling: { temperature: 0, seed: 1, maxTokens: 24 } });
  const b = await generate({ prompt: chat, sampling: { temperature: 0, seed: 2, maxTokens: 24 } });
  assert.deepEqual(a.outputTokens, b.outputTokens);
});

test("the chat prompt is the rendered template; a text prompt gets BOS", async () => {
  const fromChat = await generate({ prompt: chat, sampling: { temperature: 0, maxTokens: 1 } });
  assert.deepEqual(fromChat.promptTokens, engine.renderChat(chat.messages));
  const fromText = await generate({ prompt: { text: "Once upon a time" }, sampling: { temperature: 0, maxTokens: 1 } });
  assert.deepEqual(fromText.promptTokens, [testTokenizer().bosId, ...engine.tokenize("Once upon a time")]);
});

test("maxTokens bounds the output and finishes with length", async () => {
  for (const maxTokens of [1, 7]) {
    const result = await generate({
      prompt: { text: "The quick brown fox" },
      sampling: { temperature: 0.8, seed: 9, maxTokens },
    });
    const t = testTokenizer();
    const stoppedEarly = result.outputTokens.at(-1) === t.eosId || result.outputTokens.at(-1) === t.eotId;
    assert.ok(result.outputTokens.length <= maxTokens);
    assert.equal(result.finishReason, stoppedEarly ? "stop" : "length");
    if (!stoppedEarly) assert.equal(result.outputTokens.length, maxTokens);
  }
});

test("an end-of-generation token stops with finish reason stop and is counted but not shown", async () => {
  const t = testTokenizer();
  for (let seed = 0; seed < 40; seed++) {
    const result = await generate({ prompt: chat, sampling: { temperature: 1.5, seed, maxTokens: 64 } });
    const last = result.outputTokens.at(-1);
    if (last !== t.eosId && last !== t.eotId) continue;
    assert.equal(result.finishReason, "stop");
    assert.equal(result.text, engine.detokenize(result.outputTokens));
    return;
  }
  assert.fail("no seed produced an end-of-generation token");
});

test("a stop sequence cuts the text before it and ends generation on the token that completed it", async () => {
  const free = await generate({ prompt: chat, sampling: { temperature: 0.7, seed: 5, maxTokens: 48 } });
  // Take a stop string from the middle of the free-running text.
  const start = Math.floor(free.text.length / 2);
  const stop = free.text.slice(start, start + 3);
  const cut = free.text.indexOf(stop);
  assert.ok(stop.length === 3 && cut > 0);
  const stopped = await generate({
    prompt: chat,
    sampling: { temperature: 0.7, seed: 5, maxTokens: 48, stop: [stop] },
  });
  assert.equal(stopped.finishReason, "stop");
  assert.equal(stopped.text, free.text.slice(0, cut));
  assert.deepEqual(stopped.outputTokens, free.outputTokens.slice(0, stopped.outputTokens.length));
  assert.ok(engine.detokenize(stopped.outputTokens).includes(stop));
  assert.ok(!engine.detokenize(stopped.outputTokens.slice(0, -1)).includes(stop));
});

test("aborting stops generation promptly with finish reason abort and partial usage", async () => {
  const controller = new AbortController();
  let seen = 0;
  const result = await engine.generate({
    prompt: { text: "Once upon a time" },
    sampling: { temperature: 0.9, seed: 3, maxTokens: 500 },
    signal: controller.signal,
    onChunk: () => {
      if (++seen === 3) controller.abort();
    },
  });
  assert.equal(result.finishReason, "abort");
  assert.ok(result.outputTokens.length >= 3 && result.outputTokens.length < 10, `${result.outputTokens.length}`);
  assert.equal(result.usage.completionTokens, result.outputTokens.length);

  const preAborted = await generate({
    prompt: { text: "hi" },
    sampling: { maxTokens: 5 },
    signal: AbortSignal.abort(),
  });
  assert.equal(preAborted.finishReason, "abort");
  assert.deepEqual(preAborted.outputTokens, []);
});

test("concurrent requests on one engine are served one after another with unchanged results", async () => {
  const request = { prompt: chat, sampling: { temperature: 1, seed: 11, maxTokens: 20 } };
  const alone = await generate(request);
  const [a, b] = await Promise.all([engine.generate(request), engine.generate(request)]);
  assert.deepEqual(a.outputTokens, alone.outputTokens);
  assert.deepEqual(b.outputTokens, alone.outputTokens);
});
