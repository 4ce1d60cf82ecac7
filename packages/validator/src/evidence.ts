/**
 * Dispute evidence: the canonical JSON of an audit sample and the challenger's verdict. Its keccak256
 * is the `evidenceHash` a challenge commits to on-chain; committee members fetch the bytes from the
 * `evidenceURI`, check the hash and the receipt, and re-audit the sample themselves.
 */
import { receiptDomain, receiptFromJson, receiptTypes, type SignedReceiptJson } from "@verity/core";
import { hashTypedData, keccak256, stringToHex } from "viem";
import { z } from "zod";
import type { Verdict } from "./audit-verdict.ts";
import { type AuditSamplePayload, parseAuditSample } from "./intake.ts";

/** JSON with object keys sorted at every depth and no whitespace (one byte string per value). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** The verdict part of the evidence (what the challenger found; committee members never rely on it). */
export type EvidenceVerdict = Pick<Verdict, "pass" | "score" | "reasons" | "details" | "stats">;

export type Evidence = { version: 1; sample: AuditSamplePayload; verdict: EvidenceVerdict };

/** The evidence bytes (canonical JSON) and their keccak256. */
export function buildEvidence(args: { sample: AuditSamplePayload; verdict: EvidenceVerdict }): {
  body: string;
  hash: `0x${string}`;
} {
  const { pass, score, reasons, details, stats } = args.verdict;
  const body = canonicalJson({ version: 1, sample: args.sample, verdict: { pass, score, reasons, details, stats } });
  return { body, hash: evidenceHashOf(body) };
}

export function evidenceHashOf(body: string): `0x${string}` {
  return keccak256(stringToHex(body));
}

const evidenceEnvelope = z.object({ version: z.literal(1), sample: z.unknown(), verdict: z.unknown() });

/**
 * Reads fetched evidence: the bytes must hash to `evidenceHash` and hold a well-formed sample.
 * Returns the reason it cannot be used otherwise (the verdict inside is ignored).
 */
export function readEvidence(args: {
  body: string;
  evidenceHash: `0x${string}`;
}): { ok: true; sample: AuditSamplePayload } | { ok: false; reason: string } {
  if (evidenceHashOf(args.body).toLowerCase() !== args.evidenceHash.toLowerCase()) {
    return { ok: false, reason: "evidence_hash_mismatch" };
  }
  let json: unknown;
  try {
    json = JSON.parse(args.body);
  } catch {
    return { ok: false, reason: "evidence_not_json" };
  }
  const envelope = evidenceEnvelope.safeParse(json);
  if (!envelope.success) return { ok: false, reason: "evidence_malformed" };
  try {
    return { ok: true, sample: parseAuditSample(envelope.data.sample) };
  } catch {
    return { ok: false, reason: "evidence_sample_invalid" };
  }
}

/** EIP-712 digest of a signed receipt, as `Disputes.receiptHash` computes it. */
export function receiptDigest(args: {
  receipt: SignedReceiptJson["receipt"];
  chainId: number;
  paymentChannels: `0x${string}`;
}): `0x${string}` {
  return hashTypedData({
    domain: receiptDomain({ chainId: args.chainId, verifyingContract: args.paymentChannels }),
    types: receiptTypes,
    primaryType: "Receipt",
    message: receiptFromJson(args.receipt),
  });
}
