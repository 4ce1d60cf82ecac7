/**
 * The audit intake payload: what the SDK's audit queue POSTs to a validator (`AuditSample`:
 * transcript + signed receipt), validated with zod, turned into the verdict's transcript.
 */
import { RequestError, type RetrievalRecord, retrievalRecordSchema, signedReceiptSchema } from "@verity/core";
import type { Engine } from "@verity/engine";
import { z } from "zod";
import { type AuditTranscript, auditTranscript, type ReceiptCommitments, type Verdict } from "./audit-verdict.ts";
import type { Thresholds } from "./thresholds.ts";

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/);
const hex32Out = hex32.transform((v) => v as `0x${string}`);
const tokenIds = z.array(z.number().int().nonnegative().max(0xffffffff)).max(1_000_000);

/** The resolved sampling parameters the receipt's `paramsHash` commits to (seed included). */
export const auditSamplingSchema = z
  .object({
    temperature: z.number().min(0).max(2),
    topP: z.number().gt(0).max(1),
    seed: z.number().int().min(0).max(0xfffffffe),
    maxTokens: z.number().int().min(1),
    stop: z.array(z.string().min(1)).max(16),
    topK: z.number().int().min(0).optional(),
    /** Seed-synced sampling: the seed key the receipt's params commit to. */
    seedKey: hex32Out.optional(),
    /** The client's commitment to its audit secret, as the receipt's params commit to it. */
    auditCommit: hex32Out.optional(),
    /** A "model + dataset" offering: what the request retrieved, as the receipt's params commit to it. */
    retrieval: retrievalRecordSchema.optional(),
  })
  .strict();

/**
 * Re-runs a receipt's retrieval (`checkRetrieval` of @verity/provider over the validator's copy of
 * the corpus): `unverifiable` when the validator holds no corpus of that digest.
 */
export type RetrievalChecker = (args: {
  record: RetrievalRecord;
  query: string;
}) => { outcome: "match" } | { outcome: "unverifiable" | "retrieval_mismatch"; reason: string };

/** The retrieval query of an audited chat request: its last user message (what the provider retrieved for). */
function auditedQuery(request: Record<string, unknown>): string {
  const messages = Array.isArray(request.messages) ? (request.messages as { role?: unknown; content?: unknown }[]) : [];
  const text = (m: { content?: unknown }) =>
    typeof m.content === "string"
      ? m.content
      : Array.isArray(m.content)
        ? m.content.map((p) => (p as { text?: unknown }).text ?? "").join("")
        : "";
  const user = messages.filter((m) => m.role === "user").at(-1);
  return user ? text(user) : messages.map(text).join("\n");
}

/**
 * The client's reveal: its channel's audit secret, the amount of the voucher that paid the request
 * (the seed key's input) and the audit policy the draw was made under. Required when the receipt's
 * params carry a seed key or audit commitment.
 */
export const auditRevealSchema = z
  .object({
    auditSecret: hex32Out,
    voucherAmount: z.string().regex(/^\d{1,78}$/),
    policy: z
      .object({
        pBase: z.number().min(0).max(1),
        alwaysAuditAbove: z
          .string()
          .regex(/^[1-9]\d{0,77}$/)
          .optional(),
      })
      .strict(),
  })
  .strict();

export const auditSampleSchema = z.object({
  version: z.literal(1),
  chainId: z.number().int().positive(),
  paymentChannels: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  agentId: z.string().regex(/^\d{1,78}$/),
  channelId: hex32,
  modelId: z.string().regex(/^\d{1,78}$/),
  model: z.string().min(1),
  kind: z.enum(["chat", "text"]),
  request: z.record(z.string(), z.unknown()),
  output: z.string(),
  /** Both token lists are required for an audit (a transcript without them cannot be re-scored). */
  promptTokenIds: tokenIds.min(1),
  outputTokenIds: tokenIds,
  receipt: signedReceiptSchema,
  /** The sampling parameters as the provider resolved them; else they are read from `request`. */
  sampling: auditSamplingSchema.optional(),
  /** The audit secret and what checking the seed key's derivation and the audit draw needs. */
  reveal: auditRevealSchema.optional(),
});

export type AuditSampleInput = z.input<typeof auditSampleSchema>;
export type AuditSamplePayload = z.output<typeof auditSampleSchema>;

/** Validates an intake payload; a malformed one is a `RequestError` with code `audit_sample_invalid`. */
export function parseAuditSample(input: unknown): AuditSamplePayload {
  const result = auditSampleSchema.safeParse(input);
  if (!result.success) {
    throw new RequestError("The audit sample is malformed", {
      code: "audit_sample_invalid",
      hint: "Send the SDK's AuditSample JSON with prompt and output token ids",
      details: { issues: result.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })) },
    });
  }
  const sample = result.data;
  if (sample.receipt.receipt.completionTokens !== sample.outputTokenIds.length) {
    throw new RequestError("The output token ids do not match the receipt's completion tokens", {
      code: "audit_sample_invalid",
      details: {
        completionTokens: sample.receipt.receipt.completionTokens,
        outputTokens: sample.outputTokenIds.length,
      },
    });
  }
  return sample;
}

const requestSamplingSchema = z.looseObject({
  temperature: z.number().nullish(),
  top_p: z.number().nullish(),
  seed: z.number().int().nullish(),
  max_tokens: z.number().int().nullish(),
  max_completion_tokens: z.number().int().nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
});

/**
 * The verdict's transcript and the receipt commitments to check. `paramsVerifiable` is false when
 * neither `sampling` nor the request carries the seed and max tokens: the params hash then goes unchecked.
 */
export function transcriptOf(sample: AuditSamplePayload): {
  transcript: AuditTranscript;
  receipt: ReceiptCommitments;
  paramsVerifiable: boolean;
} {
  const r = sample.receipt.receipt;
  const commitments = { promptHash: r.promptHash as `0x${string}`, outputHash: r.outputHash as `0x${string}` };
  const base = { promptTokens: sample.promptTokenIds, outputTokens: sample.outputTokenIds };
  if (sample.sampling) {
    return {
      transcript: { ...base, sampling: sample.sampling },
      receipt: { ...commitments, paramsHash: r.paramsHash as `0x${string}` },
      paramsVerifiable: true,
    };
  }
  const req = requestSamplingSchema.safeParse(sample.request);
  const body = req.success ? req.data : {};
  const stop = body.stop == null ? [] : typeof body.stop === "string" ? [body.stop] : body.stop;
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? null;
  const sampling = {
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    seed: body.seed ?? 0,
    // Unknown max tokens: take the output length, so an early stop is not judged.
    maxTokens: maxTokens ?? sample.outputTokenIds.length,
    stop,
  };
  const paramsVerifiable = body.seed != null && maxTokens != null;
  return {
    transcript: { ...base, sampling },
    receipt: paramsVerifiable ? { ...commitments, paramsHash: r.paramsHash as `0x${string}` } : commitments,
    paramsVerifiable,
  };
}

/** Validates and audits one intake payload on the claimed model's engine. */
export async function auditSample(options: {
  engine: Engine;
  sample: unknown;
  thresholds?: Thresholds;
  /** Known cheaper variants of the claimed model (e.g. its 4-bit quantisation): a likelihood-ratio check each. */
  suspects?: readonly Engine[];
  /**
   * Re-runs a retrieval the receipt's params record. A mismatch fails the audit
   * (`retrieval_mismatch`); a retrieval the validator cannot re-run (no corpus, no checker) is
   * `retrieval: "unverifiable"` and never fails it: the validator's missing data is no evidence.
   */
  retrieval?: RetrievalChecker;
}): Promise<Verdict & { paramsVerifiable: boolean; retrieval?: "match" | "unverifiable" | "retrieval_mismatch" }> {
  const sample = parseAuditSample(options.sample);
  const { transcript, receipt, paramsVerifiable } = transcriptOf(sample);
  const record = sample.sampling?.retrieval;
  const retrieval = record
    ? (options.retrieval?.({ record, query: auditedQuery(sample.request) }) ?? {
        outcome: "unverifiable" as const,
        reason: "this validator re-runs no retrieval",
      })
    : undefined;
  const verdict = await auditTranscript({
    engine: options.engine,
    transcript,
    receipt,
    ...(options.thresholds ? { thresholds: options.thresholds } : {}),
    ...(options.suspects && options.suspects.length > 0 ? { suspects: options.suspects } : {}),
  });
  if (retrieval?.outcome === "retrieval_mismatch") {
    return {
      ...verdict,
      pass: false,
      reasons: [...verdict.reasons, "retrieval_mismatch"],
      details: [...verdict.details, `retrieval: ${retrieval.reason}`],
      paramsVerifiable,
      retrieval: retrieval.outcome,
    };
  }
  return { ...verdict, paramsVerifiable, ...(retrieval ? { retrieval: retrieval.outcome } : {}) };
}
