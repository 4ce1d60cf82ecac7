/**
 * Pooled dispute evidence: when no single audit of a provider is conclusive but the pooled test
 * (`sprt.ts`) over consecutive audits crosses its upper bound. `Disputes.challenge` takes one
 * receipt, so the challenge names the strongest receipt of the list (the largest log-likelihood
 * ratio) and commits, through `evidenceHash`, to this document: every listed audit's sample (the
 * transcript and signed receipt) in log order, the challenger's outcome for each, the SPRT
 * parameters and the validator's log-chain heads around the list. Committee members re-audit every
 * sample themselves and re-run the test with their own parameters (`pooled-verdict.ts`).
 */
import { z } from "zod";
import { canonicalJson, type EvidenceVerdict, evidenceHashOf } from "./evidence.ts";
import { type AuditSamplePayload, parseAuditSample } from "./intake.ts";
import { chainLink } from "./provider-evidence.ts";
import { auditLlr, type PooledAudit, type SprtParams } from "./sprt.ts";

export type PooledEvidence = {
  version: 2;
  kind: "pooled";
  agentId: string;
  params: SprtParams;
  /** The disputed receipt (EIP-712 digest): the listed audit with the largest log-likelihood ratio. */
  strongest: `0x${string}`;
  /** Head of the validator's log for this provider before the first listed audit, and after the last. */
  chainBefore: `0x${string}`;
  chainAfter: `0x${string}`;
  audits: {
    id: `0x${string}`;
    sample: AuditSamplePayload;
    verdict: EvidenceVerdict;
    outcome: PooledAudit & { seeded: boolean };
  }[];
};

/** The listed audit with the largest log-likelihood ratio (first on ties). */
export function strongestOf(params: SprtParams, audits: readonly PooledAudit[]): `0x${string}` {
  let best = audits[0] as PooledAudit;
  for (const a of audits) if (auditLlr(params, a) > auditLlr(params, best)) best = a;
  return best.id;
}

export function buildPooledEvidence(args: {
  agentId: string;
  params: SprtParams;
  chainBefore: `0x${string}`;
  audits: readonly {
    id: `0x${string}`;
    sample: AuditSamplePayload;
    verdict: EvidenceVerdict;
    outcome: PooledAudit & { seeded: boolean };
  }[];
}): { body: string; hash: `0x${string}`; strongest: `0x${string}` } {
  let head = args.chainBefore;
  for (const a of args.audits) head = chainLink(head, a.outcome);
  // Chosen among the audits the test pools (flips mode leaves out audits without a seeded summary).
  const pooled = args.audits.filter((a) => args.params.mode === "audits" || a.outcome.seeded);
  const strongest = strongestOf(
    args.params,
    (pooled.length > 0 ? pooled : args.audits).map((a) => a.outcome),
  );
  const audits = args.audits.map((a) => {
    const { pass, score, reasons, details, stats } = a.verdict;
    return { id: a.id, sample: a.sample, verdict: { pass, score, reasons, details, stats }, outcome: a.outcome };
  });
  const doc: PooledEvidence = {
    version: 2,
    kind: "pooled",
    agentId: args.agentId,
    params: args.params,
    strongest,
    chainBefore: args.chainBefore,
    chainAfter: head,
    audits,
  };
  const body = canonicalJson(doc);
  return { body, hash: evidenceHashOf(body), strongest };
}

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/);
const pooledSchema = z.object({
  version: z.literal(2),
  kind: z.literal("pooled"),
  agentId: z.string().regex(/^\d{1,78}$/),
  params: z.object({
    version: z.literal(1),
    mode: z.enum(["flips", "audits"]),
    p0: z.number(),
    p1: z.number(),
    alpha: z.number(),
    beta: z.number(),
    maxAudits: z.number().int(),
  }),
  strongest: hex32,
  chainBefore: hex32,
  chainAfter: hex32,
  audits: z
    .array(
      z.object({
        id: hex32,
        sample: z.unknown(),
        verdict: z.unknown(),
        outcome: z.object({
          id: hex32,
          tokens: z.number().int().nonnegative(),
          flips: z.number().int().nonnegative(),
          failed: z.boolean(),
          seeded: z.boolean(),
        }),
      }),
    )
    .min(1)
    .max(1024),
});

export type ReadPooled =
  | {
      ok: true;
      evidence: Omit<PooledEvidence, "audits">;
      /** In log order, with the challenger's claimed outcome (members only use its `seeded` flag, to fail closed). */
      samples: { id: `0x${string}`; sample: AuditSamplePayload; claimedSeeded: boolean }[];
    }
  | { ok: false; reason: string };

/**
 * Reads fetched bytes as pooled evidence: they must hash to `evidenceHash`, be version 2, hold
 * well-formed samples and a log chain that links `chainBefore` to `chainAfter` over the listed
 * outcomes. `evidence_not_pooled` means another version (single-audit evidence).
 */
export function readPooledEvidence(args: { body: string; evidenceHash: `0x${string}` }): ReadPooled {
  if (evidenceHashOf(args.body).toLowerCase() !== args.evidenceHash.toLowerCase()) {
    return { ok: false, reason: "evidence_hash_mismatch" };
  }
  let json: unknown;
  try {
    json = JSON.parse(args.body);
  } catch {
    return { ok: false, reason: "evidence_not_json" };
  }
  if ((json as { version?: unknown } | null)?.version !== 2) return { ok: false, reason: "evidence_not_pooled" };
  const parsed = pooledSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: "evidence_malformed" };
  const doc = parsed.data;
  let head = doc.chainBefore as `0x${string}`;
  const samples: { id: `0x${string}`; sample: AuditSamplePayload; claimedSeeded: boolean }[] = [];
  for (const a of doc.audits) {
    if (a.outcome.id.toLowerCase() !== a.id.toLowerCase()) return { ok: false, reason: "evidence_malformed" };
    head = chainLink(head, { ...a.outcome, id: a.outcome.id as `0x${string}` });
    try {
      samples.push({
        id: a.id as `0x${string}`,
        sample: parseAuditSample(a.sample),
        claimedSeeded: a.outcome.seeded,
      });
    } catch {
      return { ok: false, reason: "evidence_sample_invalid" };
    }
  }
  if (head.toLowerCase() !== doc.chainAfter.toLowerCase()) return { ok: false, reason: "pooled_chain_mismatch" };
  const { audits: _audits, ...evidence } = doc;
  return { ok: true, evidence: evidence as Omit<PooledEvidence, "audits">, samples };
}
