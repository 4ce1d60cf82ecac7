import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { withToolPrompt } from "@verity/core";
import fc from "fast-check";
import { createTestEngine, type Engine } from "../../engine/src/index.ts";
import {
  effectiveMaxTokens,
  estimateChatPromptTokens,
  estimateTextPromptTokens,
  messageText,
  requestCeiling,
} from "./ceiling.ts";

let engine: Engine;
before(async () => {
  engine = await createTestEngine({ name: "verity-tiny" });
});
after(async () => {
  await engine.close();
});

const role = fc.constantFrom("system" as const, "user" as const, "assistant" as const);

test("the prompt estimate bounds the real chat template's token count, for any UTF-8 text", () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ role, content: fc.string({ unit: "grapheme", maxLength: 60 }) }), {
        minLength: 1,
        maxLength: 6,
      }),
      (messages) => {
        const real = engine.renderChat(messages).length;
        assert.ok(estimateChatPromptTokens(messages) >= real, `${estimateChatPromptTokens(messages)} < ${real}`);
      },
    ),
    { numRuns: 200 },
  );
});

test("with tools, the estimate bounds the template over the messages the provider renders (tool prompt included)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ role, content: fc.string({ unit: "grapheme", maxLength: 60 }) }), {
        minLength: 1,
        maxLength: 4,
      }),
      fc.array(
        fc.record({
          name: fc.stringMatching(/^[A-Za-z0-9_]{1,20}$/),
          description: fc.string({ unit: "grapheme", maxLength: 40 }),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      fc.constantFrom("auto" as const, "required" as const, undefined),
      (messages, fns, toolChoice) => {
        const tools = fns.map((f) => ({
          type: "function" as const,
          function: { name: f.name, description: f.description, parameters: { type: "object" } },
        }));
        const real = engine.renderChat(withToolPrompt(messages, tools, toolChoice)).length;
        const estimate = estimateChatPromptTokens(messages, { tools, toolChoice });
        assert.ok(estimate >= real, `${estimate} < ${real}`);
      },
    ),
    { numRuns: 100 },
  );
});

test("the text prompt estimate bounds tokenize + BOS; token-id prompts count their ids", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => {
      assert.ok(estimateTextPromptTokens(text) >= engine.tokenize(text).length + 1);
    }),
    { numRuns: 200 },
  );
  assert.equal(estimateTextPromptTokens([1, 2, 3]), 35);
  assert.equal(estimateTextPromptTokens(["ab"]), 34);
});

test("the ceiling rounds up per million, and max_tokens defaults follow the provider", () => {
  const price = { inputPerMTok: 1_000_000n, outputPerMTok: 2_000_000n };
  assert.equal(requestCeiling({ price, promptTokens: 10, maxTokens: 5 }), 20n);
  assert.equal(requestCeiling({ price: { inputPerMTok: 1n, outputPerMTok: 1n }, promptTokens: 1, maxTokens: 0 }), 1n);
  assert.equal(effectiveMaxTokens({ kind: "chat", maxTokens: undefined, offerMaxOutputTokens: 256 }), 256);
  assert.equal(effectiveMaxTokens({ kind: "text", maxTokens: null, offerMaxOutputTokens: 256 }), 16);
  assert.equal(effectiveMaxTokens({ kind: "text", maxTokens: 40, offerMaxOutputTokens: 256 }), 40);
  assert.equal(
    messageText([
      { type: "text", text: "a" },
      { type: "text", text: "b" },
    ]),
    "ab",
  );
  assert.equal(estimateChatPromptTokens([{ role: "user", content: "é" }]), 2 + 16 + 32);
});
