/**
 * The openai-compatible front door's context reference, resolved on the user's machine: a chat body
 * may carry `verity_context: { owner, version?, select? }`; before the paid request leaves, the SDK
 * fetches and verifies that context, decrypts it, keeps only the selected parts and inserts them as
 * a system message, and drops the reference. The provider gets those parts inside the request and
 * nothing else — never the key, never the stored blob. A body that reaches a gateway or provider
 * still carrying the reference is refused there (`context_unresolved`).
 */
import { ContextError, RequestError } from "@verity/core";
import type { ContextClient } from "./context-client.ts";
import {
  type ContextReference,
  type ContextSelect,
  contextReferenceSchema,
  type UserContext,
} from "./context-schema.ts";

/** The parts of `context` that `select` names (default: all of it). */
export function selectContext(args: { context: UserContext; select?: ContextSelect }): UserContext {
  const select = args.select ?? { preferences: true, facts: true, summaries: true };
  const { context } = args;
  const facts =
    select.facts === true
      ? context.facts
      : Array.isArray(select.facts)
        ? context.facts.filter((f) => f.tags?.some((t) => (select.facts as string[]).includes(t)))
        : [];
  const summaries =
    select.summaries === true
      ? context.summaries
      : typeof select.summaries === "number"
        ? context.summaries.slice(Math.max(0, context.summaries.length - select.summaries))
        : [];
  return { preferences: select.preferences ? context.preferences : {}, facts, summaries };
}

/** The system message text of a selected context. */
export function contextSystemMessage(args: { context: UserContext }): string {
  const { preferences, facts, summaries } = args.context;
  const lines = ["Context the user keeps about themselves (use it where relevant):"];
  const prefs = Object.entries(preferences);
  if (prefs.length > 0) lines.push("Preferences:", ...prefs.map(([k, v]) => `- ${k}: ${String(v)}`));
  if (facts.length > 0) lines.push("Facts:", ...facts.map((f) => `- ${f.text}`));
  if (summaries.length > 0)
    lines.push("Earlier conversations:", ...summaries.map((s) => `- ${s.title ? `${s.title}: ` : ""}${s.text}`));
  return lines.join("\n");
}

/**
 * A chat body with its `verity_context` resolved: the selected context as a leading system message,
 * the reference removed. Bodies without a reference come back unchanged.
 */
export async function resolveContextReference<T extends object>(args: {
  body: T;
  context: ContextClient | undefined;
}): Promise<T> {
  if (args.body === null || typeof args.body !== "object" || !Object.hasOwn(args.body, "verity_context"))
    return args.body;
  const { verity_context: raw, ...rest } = args.body as T & { verity_context: unknown };
  const parsed = contextReferenceSchema.safeParse(raw);
  if (!parsed.success) {
    throw new RequestError("verity_context must be { owner, version?, select? }", {
      code: "invalid_request",
      details: { issue: parsed.error.issues[0]?.message },
    });
  }
  const ref: ContextReference = parsed.data;
  if (!args.context || args.context.owner.toLowerCase() !== ref.owner.toLowerCase()) {
    throw new ContextError(`No context client holds the key of ${ref.owner}`, {
      code: "context_unresolved",
      hint: "Pass createContextClient({ privateKey, backend }) for this owner",
    });
  }
  const found = await args.context.get(ref.version === undefined ? {} : { version: ref.version });
  if (!found) {
    throw new ContextError(`No context is stored for ${ref.owner}`, { code: "context_not_found" });
  }
  const selected = selectContext({ context: found.context, ...(ref.select ? { select: ref.select } : {}) });
  const given = (rest as { messages?: unknown }).messages;
  const messages: unknown[] = Array.isArray(given) ? given : [];
  return {
    ...rest,
    messages: [{ role: "system", content: contextSystemMessage({ context: selected }) }, ...messages],
  } as T;
}

/**
 * A `fetch` for the official `openai` client (its `fetch` option) that resolves `verity_context` in
 * JSON request bodies before they leave; everything else passes through unchanged.
 */
export function createContextFetch(options: { context: ContextClient; fetch?: typeof fetch }): typeof fetch {
  const base = options.fetch ?? fetch;
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    if (typeof init?.body !== "string" || !init.body.includes('"verity_context"')) return base(input, init);
    let body: unknown;
    try {
      body = JSON.parse(init.body);
    } catch {
      return base(input, init);
    }
    if (body === null || typeof body !== "object") return base(input, init);
    const resolved = await resolveContextReference({ body, context: options.context });
    return base(input, { ...init, body: JSON.stringify(resolved) });
  }) as typeof fetch;
}
