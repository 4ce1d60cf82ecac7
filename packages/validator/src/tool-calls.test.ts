import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { extractToolCalls, scoreToolCalls } from "./tool-calls.ts";

/** A chat request as clients send it (OpenAI tools format). */
const request = {
  model: "verity-tiny",
  messages: [{ role: "user", content: "What is the weather in Paris in celsius, and book a table for 2 at 8pm?" }],
  tools: [
    {
      type: "function",
      function: {
        name: "get_weather",
        description: "Current weather for a city",
        parameters: {
          type: "object",
          properties: {
            city: { type: "string" },
            unit: { type: "string", enum: ["celsius", "fahrenheit"] },
          },
          required: ["city"],
          additionalProperties: false,
        },
      },
    },
    {
      type: "function",
      function: {
        name: "book_table",
        parameters: {
          type: "object",
          properties: { people: { type: "integer", minimum: 1 }, time: { type: "string" } },
          required: ["people", "time"],
        },
      },
    },
  ],
};

describe("tool-call quality", () => {
  it("accepts valid calls in Hermes/Qwen blocks", () => {
    const output =
      '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n</tool_call>\n' +
      '<tool_call>\n{"name": "book_table", "arguments": {"people": 2, "time": "20:00"}}\n</tool_call>';
    const score = scoreToolCalls({ request, output });
    assert.deepEqual(score && { calls: score.calls, valid: score.valid }, { calls: 2, valid: 2 });
  });

  it("accepts OpenAI-shaped calls with arguments as a JSON string", () => {
    const output = JSON.stringify({
      tool_calls: [
        { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
      ],
    });
    assert.equal(scoreToolCalls({ request, output })?.valid, 1);
  });

  it("flags invalid JSON, schema violations and unknown tools", () => {
    const output =
      '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris",}</tool_call>' +
      '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris", "unit": "kelvin"}}</tool_call>' +
      '<tool_call>{"name": "book_table", "arguments": {"people": 0, "time": "20:00"}}</tool_call>' +
      '<tool_call>{"name": "get_weather", "arguments": {"town": "Paris"}}</tool_call>' +
      '<tool_call>{"name": "send_email", "arguments": {"to": "a@b.c"}}</tool_call>' +
      '<tool_call>{"name": "book_table", "arguments": "{\\"people\\": 2, \\"time\\": \\"8pm\\""}</tool_call>';
    const score = scoreToolCalls({ request, output });
    assert.ok(score);
    assert.equal(score.calls, 6);
    assert.equal(score.valid, 0);
    assert.deepEqual(
      score.checks.map((c) => c.reason),
      [
        "tool_call_invalid_json",
        "tool_call_schema_violation",
        "tool_call_schema_violation",
        "tool_call_schema_violation",
        "tool_call_unknown_tool",
        "tool_call_invalid_json",
      ],
    );
  });

  it("does not score requests without tools, plain-text answers or a block cut by the token limit", () => {
    assert.equal(scoreToolCalls({ request: { model: "m", messages: [] }, output: "<tool_call>{}" }), null);
    assert.equal(scoreToolCalls({ request, output: "It is sunny in Paris." })?.calls, 0);
    const cut = '<tool_call>{"name": "get_weather", "arguments": {"city": "Par';
    assert.equal(scoreToolCalls({ request, output: cut, truncated: true })?.calls, 0);
    assert.equal(scoreToolCalls({ request, output: cut })?.checks[0]?.reason, "tool_call_invalid_json");
    assert.deepEqual(extractToolCalls('{"answer": 42}'), []);
  });

  it("leaves calls unscored when the tool's schema cannot be compiled", () => {
    const odd = {
      tools: [{ type: "function", function: { name: "f", parameters: { $ref: "#/definitions/missing" } } }],
    };
    const score = scoreToolCalls({ request: odd, output: '<tool_call>{"name":"f","arguments":{}}</tool_call>' });
    assert.ok(score);
    assert.equal(score.calls + score.unscored, 1);
  });
});
