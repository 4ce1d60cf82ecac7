/**
 * The transcript a provider sends with every paid response (`verity.transcript`): the prompt and
 * output token ids and the resolved sampling parameters. It is only worth keeping for an audit when
 * it is exactly what the signed receipt commits to: the ids hash to `promptHash` / `outputHash`, their
 * counts are the receipt's token counts, and the parameters hash to `paramsHash`.
 */
import { HEX32_PATTERN, hashParams, hashTokens, type Receipt, retrievalRecordSchema } from "@verity/core";
import { z } from "zod";

const hex32 = z
  .string()
  .regex(HEX32_PATTERN)
  .transform((v) => v as `0x${string}`);
const tokenIds = z.array(z.number().int().nonnegative().max(0xffffffff)).max(1_000_000);

/** The resolved sampling parameters a receipt's `paramsHash` commits to (the validator's bounds). */
export const transcriptSamplingSchema = z
  .object({
    temperature: z.number().min(0).max(2),
    topP: z.number().gt(0).max(1),
    seed: z.number().int().min(0).max(0xfffffffe),
    maxTokens: z.number().int().min(1),
    stop: z.array(z.string().min(1)).max(16),
    topK: z.number().int().min(0).optional(),
    /** Seed-synced sampling: the seed key the client sent (see `@verity/core`'s `sampling-seed.ts`). */
    seedKey: hex32.optional(),
    /** The client's commitment to its audit secret, as it sent it. */
    auditCommit: hex32.optional(),
    /** A "model + dataset" offering: what the provider retrieved, as it signed it. */
    retrieval: retrievalRecordSchema.optional(),
  })
  .strict();

export type TranscriptSampling = z.output<typeof transcriptSamplingSchema>;

export const providerTranscriptSchema = z.object({
  promptTokenIds: tokenIds.min(1),
  outputTokenIds: tokenIds,
  sampling: transcriptSamplingSchema,
});

export type ProviderTranscript = z.output<typeof providerTranscriptSchema>;

export type TranscriptVerdict =
  | { ok: true; transcript: ProviderTranscript }
  | { ok: false; reason: "missing" | "malformed" | "mismatch"; detail: string };

/** Checks a response's transcript against its verified receipt. */
export function checkTranscript(args: { transcript: unknown; receipt: Receipt }): TranscriptVerdict {
  if (args.transcript === undefined || args.transcript === null) {
    return { ok: false, reason: "missing", detail: "The response carries no transcript" };
  }
  const parsed = providerTranscriptSchema.safeParse(args.transcript);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      reason: "malformed",
      detail: `The transcript is malformed at ${issue?.path.join(".") || "its root"}`,
    };
  }
  const t = parsed.data;
  const r = args.receipt;
  const mismatch = (detail: string): TranscriptVerdict => ({ ok: false, reason: "mismatch", detail });
  if (t.promptTokenIds.length !== r.promptTokens || t.outputTokenIds.length !== r.completionTokens) {
    return mismatch("The transcript's token counts differ from the receipt's");
  }
  if (hashTokens(t.promptTokenIds) !== r.promptHash.toLowerCase()) {
    return mismatch("The prompt token ids do not hash to the receipt's promptHash");
  }
  if (hashTokens(t.outputTokenIds) !== r.outputHash.toLowerCase()) {
    return mismatch("The output token ids do not hash to the receipt's outputHash");
  }
  if (hashParams(t.sampling) !== r.paramsHash.toLowerCase()) {
    return mismatch("The sampling parameters do not hash to the receipt's paramsHash");
  }
  return { ok: true, transcript: t };
}
