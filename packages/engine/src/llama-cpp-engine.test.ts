import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Engine } from "./engine.ts";
import { createTestEngine } from "./test-engine.ts";
import { TEST_MODELS } from "./test-models.ts";
import { testTokenizer } from "./test-tokenizer.ts";

const engines = new Map<string, Engine>();
const tiny = () => engines.get("verity-tiny")!;

before(async () => {
  for (const name of Object.keys(TEST_MODELS)) engines.set(name, await createTestEngine({ name }));
});
after(async () => {
  for (const engine of engines.values()) await engine.close();
});

test("every test model loads through llama.cpp with its name, context and vocabulary", () => {
  for (const [name, engine] of engines) {
    assert.equal(engine.name, name);
    assert.equal(engine.contextSize, 2048);
    assert.equal(engine.vocabSize, 512);
    assert.match(engine.identity.weightsHash, /^0x[0-9a-f]{64}$/);
  }
});

const SAMPLES = [
  "Hello, world!",
  "The capital of France is Paris.",
  "héllo wörld — ünïcödé façade",
  "日本語のテキストと中文",
  "مرحبا بالعالم",
  "emoji 🎉👍🏽 and ZWJ 👩‍💻",
  "tabs\tand\nnewlines\r\n  indented",
  "<|im_end|> and <|bos|> are just text here",
  "",
];

test("tokenize/detokenize round-trips any UTF-8 text on every model", () => {
  for (const engine of engines.values()) {
    for (const text of SAMPLES) {
      const tokens = engine.tokenize(text);
      assert.equal(engine.detokenize(tokens), text, JSON.stringify(text));
    }
  }
});

test("learned merges make common English shorter than its bytes; rare text falls back to byte tokens", () => {
  const english = "The provider and the validator agree on the model.";
  assert.ok(tiny().tokenize(english).length < Buffer.byteLength(english) / 2);
  const rare = "日本語";
  assert.equal(tiny().tokenize(rare).length, Buffer.byteLength(rare));
});

test("text that looks like a control token is not parsed as one", () => {
  const tokenizer = testTokenizer();
  const tokens = tiny().tokenize("<|im_end|>");
  assert.ok(!tokens.includes(tokenizer.eotId));
});

test("the chat template renders ChatML with BOS and the assistant prefix", () => {
  const t = testTokenizer();
  const imStart = t.tokens.indexOf("<|im_start|>");
  const messages = [
    { role: "system", content: "You are helpful." },
    { role: "user", content: "Hi <|im_end|> there" },
    { role: "assistant", content: "Hello!" },
    { role: "user", content: "How are you?" },
  ] as const;
  const tokens = tiny().renderChat(messages);
  assert.equal(tokens[0], t.bosId);
  assert.equal(tokens.filter((x) => x === imStart).length, messages.length + 1);
  assert.equal(tokens.filter((x) => x === t.eotId).length, messages.length);
  assert.equal(
    tiny().detokenize(tokens),
    "system\nYou are helpful.\nuser\nHi <|im_end|> there\nassistant\nHello!\nuser\nHow are you?\nassistant\n",
  );
  assert.deepEqual(tokens.slice(-1 - tiny().tokenize("assistant\n").length), [
    imStart,
    ...tiny().tokenize("assistant\n"),
  ]);
  assert.deepEqual(engines.get("verity-tiny-sub")!.renderChat(messages), tokens);
});

test("bad requests are refused with reason codes", async () => {
  await assert.rejects(tiny().generate({ prompt: { text: "hi" }, sampling: { maxTokens: 0 } }), {
    code: "invalid_request",
  });
  await assert.rejects(tiny().generate({ prompt: { text: "hi" }, sampling: { maxTokens: 4, seed: 0xffffffff } }), {
    code: "invalid_request",
  });
  await assert.rejects(tiny().rescore({ promptTokens: [1, 512], outputTokens: [2] }), { code: "invalid_request" });
  await assert.rejects(tiny().rescore({ promptTokens: [], outputTokens: [2] }), { code: "invalid_request" });
  await assert.rejects(tiny().rescore({ promptTokens: new Array(2048).fill(65), outputTokens: [66, 67] }), {
    code: "prompt_too_long",
  });
  await assert.rejects(tiny().generate({ prompt: { text: "a ".repeat(3000) }, sampling: { maxTokens: 4 } }), {
    code: "prompt_too_long",
  });
});

test("a chat rendered once by the caller generates exactly what the engine renders itself", async () => {
  const messages = [{ role: "user" as const, content: "Say something short." }];
  const sampling = { maxTokens: 6, temperature: 0, seed: 3 };
  const own = await tiny().generate({ prompt: { messages }, sampling });
  const renderedPrompt = tiny().renderChat(messages);
  const given = await tiny().generate({ prompt: { messages }, renderedPrompt, sampling });
  assert.deepEqual(given, own);
  assert.deepEqual(given.promptTokens, renderedPrompt);
  await assert.rejects(tiny().generate({ prompt: { messages }, renderedPrompt: [1, 512], sampling }), {
    code: "invalid_request",
  });
});

test("a closed engine refuses work", async () => {
  const engine = await createTestEngine({ name: "verity-tiny-sub", contextSize: 256 });
  assert.equal(engine.contextSize, 256);
  await engine.close();
  assert.throws(() => engine.tokenize("hi"), { code: "internal_error" });
  await engine.close();
});
