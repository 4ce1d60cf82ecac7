/**
 * How a chat request's `tools` reach the model: open models read function signatures from the
 * prompt, so the provider writes them into the system message in the Hermes / Qwen form
 * (`<tools>` with one JSON signature a line, calls answered in `<tool_call>` blocks), which is also
 * the form the validator's tool-call score reads back. The text is a pure function of the request,
 * so a client bounds its prompt tokens with it before paying and the provider renders the same.
 */
export type ChatTool = {
  type: "function";
  function: { name: string; description?: string | undefined; parameters?: Record<string, unknown> | undefined };
};

export type ToolChoice = "none" | "auto" | "required" | { type: "function"; function: { name: string } };

/** The system text that offers `tools`, or null when there are none or `tool_choice` is `none`. */
export function toolPrompt(
  tools: readonly ChatTool[] | null | undefined,
  toolChoice?: ToolChoice | null,
): string | null {
  if (!tools || tools.length === 0 || toolChoice === "none") return null;
  const signatures = tools.map((t) =>
    JSON.stringify({
      type: "function",
      function: {
        name: t.function.name,
        ...(t.function.description === undefined ? {} : { description: t.function.description }),
        parameters: t.function.parameters ?? { type: "object", properties: {} },
      },
    }),
  );
  const choice =
    toolChoice === "required"
      ? "\nYou must call at least one function."
      : typeof toolChoice === "object" && toolChoice !== null
        ? `\nYou must call the function ${JSON.stringify(toolChoice.function.name)}.`
        : "";
  return [
    "# Tools",
    "",
    "You may call one or more functions to assist with the user query.",
    "",
    "You are provided with function signatures within <tools></tools> XML tags:",
    "<tools>",
    ...signatures,
    "</tools>",
    "",
    "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:",
    "<tool_call>",
    '{"name": <function-name>, "arguments": <args-json-object>}',
    `</tool_call>${choice}`,
  ].join("\n");
}

/** `messages` with the tool prompt appended to the system message (or a system message put first). */
export function withToolPrompt<M extends { role: string; content: string }>(
  messages: readonly M[],
  tools: readonly ChatTool[] | null | undefined,
  toolChoice?: ToolChoice | null,
): M[] {
  const text = toolPrompt(tools, toolChoice);
  if (text === null) return [...messages];
  const [first, ...rest] = messages;
  if (first?.role === "system") return [{ ...first, content: `${first.content}\n\n${text}` }, ...rest];
  return [{ role: "system", content: text } as M, ...messages];
}
