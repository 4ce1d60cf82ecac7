/**
 * The shapes of portable user context: the plaintext a user keeps (preferences, facts, conversation
 * summaries — only ever seen decrypted on the user's machine and, for the parts selected, by the
 * provider a request goes to), the stored form (a signed version and its encrypted blob, base64 on
 * the wire), and the request-side reference `verity_context` the SDK resolves.
 */
import { signedContextVersionSchema } from "@verity/core";
import { z } from "zod";

const text = z.string().min(1).max(8_000);

/** A user's context in plaintext. */
export const userContextSchema = z
  .object({
    preferences: z.record(z.string().min(1).max(200), z.union([z.string().max(2_000), z.number(), z.boolean()])),
    facts: z
      .array(z.object({ text, tags: z.array(z.string().min(1).max(64)).max(32).optional() }).strict())
      .max(10_000),
    summaries: z
      .array(z.object({ text, title: z.string().max(200).optional(), at: z.string().max(64).optional() }).strict())
      .max(10_000),
  })
  .strict();

export type UserContext = z.output<typeof userContextSchema>;

/** A context with nothing in it (what a new user starts from). */
export function emptyUserContext(): UserContext {
  return { preferences: {}, facts: [], summaries: [] };
}

/** A stored version on the wire: the signed record and the encrypted blob in base64. */
export const storedContextJsonSchema = z
  .object({
    record: signedContextVersionSchema,
    blob: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/),
  })
  .strict();

export type StoredContextJson = z.output<typeof storedContextJsonSchema>;

/** Which parts of the context a request takes. */
export const contextSelectSchema = z
  .object({
    preferences: z.boolean().optional(),
    /** true: every fact; a list of tags: the facts carrying any of them. */
    facts: z.union([z.boolean(), z.array(z.string().min(1).max(64)).max(32)]).optional(),
    /** true: every summary; a number n: the last n. */
    summaries: z.union([z.boolean(), z.number().int().nonnegative()]).optional(),
  })
  .strict();

export type ContextSelect = z.output<typeof contextSelectSchema>;

/** The body field `verity_context`: whose context, which version (default the latest), which parts (default all). */
export const contextReferenceSchema = z
  .object({
    owner: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
    version: z.number().int().positive().optional(),
    select: contextSelectSchema.optional(),
  })
  .strict();

export type ContextReference = z.output<typeof contextReferenceSchema>;
