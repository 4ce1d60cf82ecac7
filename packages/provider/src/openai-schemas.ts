import { z } from "zod";

/** Message content: a string, or OpenAI's array of text parts (other part types are rejected). */
const contentSchema = z.union([
  z.string(),
  z
    .array(z.looseObject({ type: z.literal("text"), text: z.string() }))
    .transform((parts) => parts.map((p) => p.text).join("")),
]);

const stopSchema = z
  .union([z.string().min(1), z.array(z.string().min(1)).max(16)])
  .transform((s) => (typeof s === "string" ? [s] : s));

const common = {
  model: z.string().min(1),
  max_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  seed: z.number().int().min(0).max(0xfffffffe).nullish(),
  stop: stopSchema.nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  n: z.literal(1).nullish(),
  user: z.string().nullish(),
  /** Verity's extension `{ seed_key, audit_commit }` (checked by `seed-fields.ts`, with its own reason codes). */
  verity: z.unknown().optional(),
};

/** OpenAI's `tools`: functions the model may call (a name, an optional description, a JSON schema). */
export const toolsSchema = z
  .array(
    z.looseObject({
      type: z.literal("function"),
      function: z.looseObject({
        name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1-64 letters, digits, _ . or -"),
        description: z.string().max(4_096).optional(),
        parameters: z.record(z.string(), z.unknown()).optional(),
      }),
    }),
  )
  .max(128);

/** OpenAI's `tool_choice`: `none`, `auto`, `required`, or one named function. */
export const toolChoiceSchema = z.union([
  z.enum(["none", "auto", "required"]),
  z.looseObject({ type: z.literal("function"), function: z.looseObject({ name: z.string().min(1) }) }),
]);

/** `POST /v1/chat/completions` body (fields we do not use are accepted and ignored). */
export const chatCompletionRequestSchema = z.looseObject({
  ...common,
  messages: z
    .array(
      z.looseObject({
        role: z.enum(["system", "developer", "user", "assistant"]).transform((r) => (r === "developer" ? "system" : r)),
        content: contentSchema,
      }),
    )
    .min(1),
  max_completion_tokens: z.number().int().positive().nullish(),
  /** Functions the model may call: written into the system message (`withToolPrompt`). */
  tools: toolsSchema.nullish(),
  tool_choice: toolChoiceSchema.nullish(),
  /** vLLM extension: continue the final assistant message (used by gateways to fail over mid-stream). */
  continue_final_message: z.boolean().nullish(),
});

/** `POST /v1/completions` body. */
export const completionRequestSchema = z.looseObject({
  ...common,
  prompt: z.union([
    z.string(),
    z
      .array(z.string())
      .length(1)
      .transform((p) => p[0] ?? ""),
    z.array(z.number().int().nonnegative()).min(1),
  ]),
  /** vLLM extension: return the top-k logprobs of every prompt token (teacher forcing over the prompt). */
  prompt_logprobs: z.number().int().min(0).max(20).nullish(),
});

export type ChatCompletionRequest = z.output<typeof chatCompletionRequestSchema>;
export type CompletionRequest = z.output<typeof completionRequestSchema>;
