import assert from "node:assert/strict";
import { test } from "node:test";
import { type ChatTool, toolPrompt, withToolPrompt } from "./tool-prompt.ts";

const tools: ChatTool[] = [
  {
    type: "function",
    function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
  },
];

test("no tools, or tool_choice none, leaves the messages as they are", () => {
  const messages = [{ role: "user", content: "hi" }];
  assert.equal(toolPrompt(undefined), null);
  assert.equal(toolPrompt([]), null);
  assert.equal(toolPrompt(tools, "none"), null);
  assert.deepEqual(withToolPrompt(messages, tools, "none"), messages);
});

test("tools go into the system message, one JSON signature a line, with the call format", () => {
  const plain = withToolPrompt([{ role: "user", content: "hi" }], tools);
  assert.equal(plain.length, 2);
  assert.equal(plain[0]?.role, "system");
  assert.match(plain[0]?.content ?? "", /<tools>\n\{"type":"function","function":\{"name":"get_weather",/);
  assert.match(plain[0]?.content ?? "", /<tool_call>/);
  const merged = withToolPrompt(
    [
      { role: "system", content: "Be brief." },
      { role: "user", content: "hi" },
    ],
    tools,
    { type: "function", function: { name: "get_weather" } },
  );
  assert.equal(merged.length, 2);
  assert.match(merged[0]?.content ?? "", /^Be brief\.\n\n# Tools/);
  assert.match(merged[0]?.content ?? "", /You must call the function "get_weather"\.$/);
  assert.match(toolPrompt(tools, "required") ?? "", /You must call at least one function\.$/);
});
