/**
 * Tool-call quality of one audited answer: for a request that offers `tools`, each tool call in the
 * answer must name an offered function and carry arguments that parse as JSON and validate against
 * that function's JSON schema (`function.parameters`). Tool calls are read from the answer text in
 * the two shapes open models emit: `<tool_call>{"name", "arguments"}</tool_call>` blocks (Hermes,
 * Qwen) or an answer that is one JSON object `{"name", "arguments"}` / `{"tool_calls": [...]}`
 * (OpenAI's shape, `function.arguments` a JSON string). A schema the validator cannot compile is not
 * scored (the validator's limitation, never the provider's fault).
 */
import { z } from "zod";

export type ToolCallReason = "tool_call_invalid_json" | "tool_call_unknown_tool" | "tool_call_schema_violation";

export type ToolCallCheck = { name: string | null; valid: boolean; reason: ToolCallReason | null };

export type ToolCallScore = {
  /** Tool calls found in the answer and scored. */
  calls: number;
  valid: number;
  checks: ToolCallCheck[];
  /** Calls not scored because the validator could not compile the tool's schema. */
  unscored: number;
};

type ToolSpec = { name: string; parameters: unknown };

const toolsSchema = z.array(
  z.looseObject({
    type: z.string().optional(),
    function: z.looseObject({ name: z.string().min(1), parameters: z.unknown().optional() }),
  }),
);

/** The functions a chat request offers (`tools[].function`), or null when it offers none. */
export function requestTools(request: Record<string, unknown>): ToolSpec[] | null {
  const parsed = toolsSchema.safeParse(request.tools);
  if (!parsed.success || parsed.data.length === 0) return null;
  return parsed.data
    .filter((t) => t.type === undefined || t.type === "function")
    .map((t) => ({ name: t.function.name, parameters: t.function.parameters ?? { type: "object" } }));
}

/**
 * Raw tool calls in an answer: `{ name, arguments }` with arguments as text or a value; `null` =
 * unparseable. A final `<tool_call>` block left open counts only when the answer was not cut at
 * its token limit (`truncated`): the client's limit is no fault of the provider.
 */
export function extractToolCalls(
  output: string,
  options: { truncated?: boolean } = {},
): ({ name: unknown; arguments: unknown } | null)[] {
  const blocks = [...output.matchAll(/<tool_call>([\s\S]*?)(<\/tool_call>|$)/g)]
    .filter((m) => m[2] !== "" || !options.truncated)
    .map((m) => (m[1] ?? "").trim());
  if (output.includes("<tool_call>")) return blocks.map((b) => callOf(parseJson(b)));
  const trimmed = output.trim();
  if (!trimmed.startsWith("{")) return [];
  const whole = parseJson(trimmed);
  if (whole === undefined) return [];
  if (isObject(whole) && Array.isArray(whole.tool_calls)) return whole.tool_calls.map((c) => callOf(c));
  if (isObject(whole) && typeof whole.name === "string" && "arguments" in whole) return [callOf(whole)];
  return [];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function callOf(value: unknown): { name: unknown; arguments: unknown } | null {
  if (!isObject(value)) return null;
  const fn = isObject(value.function) ? value.function : value;
  return { name: fn.name, arguments: fn.arguments ?? fn.parameters };
}

const compiled = new WeakMap<object, z.ZodType | null>();

function validatorOf(schema: unknown): z.ZodType | null {
  if (!isObject(schema)) return null;
  if (compiled.has(schema)) return compiled.get(schema) ?? null;
  let out: z.ZodType | null;
  try {
    out = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch {
    out = null;
  }
  compiled.set(schema, out);
  return out;
}

/** Scores the tool calls of one answer against the request's tools; null when the request offers none. */
export function scoreToolCalls(args: {
  request: Record<string, unknown>;
  output: string;
  /** The answer stopped at its token limit. */
  truncated?: boolean;
}): ToolCallScore | null {
  const tools = requestTools(args.request);
  if (!tools) return null;
  const score: ToolCallScore = { calls: 0, valid: 0, checks: [], unscored: 0 };
  for (const call of extractToolCalls(args.output, { truncated: args.truncated ?? false })) {
    const check = checkCall(call, tools);
    if (check === "unscored") {
      score.unscored++;
      continue;
    }
    score.calls++;
    if (check.valid) score.valid++;
    score.checks.push(check);
  }
  return score;
}

function checkCall(
  call: { name: unknown; arguments: unknown } | null,
  tools: readonly ToolSpec[],
): ToolCallCheck | "unscored" {
  if (call === null) return { name: null, valid: false, reason: "tool_call_invalid_json" };
  const name = typeof call.name === "string" ? call.name : null;
  const tool = tools.find((t) => t.name === name);
  if (!tool) return { name, valid: false, reason: "tool_call_unknown_tool" };
  const args = typeof call.arguments === "string" ? parseJson(call.arguments) : (call.arguments ?? {});
  if (args === undefined) return { name, valid: false, reason: "tool_call_invalid_json" };
  const validator = validatorOf(tool.parameters);
  if (!validator) return "unscored";
  return validator.safeParse(args).success
    ? { name, valid: true, reason: null }
    : { name, valid: false, reason: "tool_call_schema_violation" };
}
