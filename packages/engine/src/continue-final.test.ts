import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Engine } from "./engine.ts";
import { createTestEngine } from "./test-engine.ts";

let engine: Engine;
before(async () => {
  engine = await createTestEngine({ name: "verity-tiny" });
});
after(async () => {
  await engine.close();
});

test("continuing a final assistant message renders an open turn that ends with its text", () => {
  const messages = [
    { role: "user" as const, content: "Tell me a story." },
    { role: "assistant" as const, content: "Once upon" },
  ];
  const open = engine.renderChat(messages, { continueFinal: true });
  const closed = engine.renderChat(messages);
  assert.ok(engine.detokenize(open).endsWith("Once upon"));
  assert.ok(closed.length > open.length, "a new turn adds the end-of-turn and a new assistant header");
});

test("greedy generation continued from its own prefix yields the same text as one uninterrupted run", async () => {
  const user = [{ role: "user" as const, content: "Write a line about ledgers." }];
  const whole = await engine.generate({ prompt: { messages: user }, sampling: { maxTokens: 24, temperature: 0 } });
  const cut = Math.floor(whole.outputTokens.length / 2);
  const head = engine.detokenize(whole.outputTokens.slice(0, cut));
  const rest = await engine.generate({
    prompt: { messages: [...user, { role: "assistant", content: head }], continueFinal: true },
    sampling: { maxTokens: 24 - cut, temperature: 0 },
  });
  assert.equal(head + rest.text, whole.text);
});
