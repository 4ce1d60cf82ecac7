/**
 * The seed fields of one paid request (seed-synced sampling, `@verity/core`'s `sampling-seed.ts`):
 * what the SDK sends in the body, and the check that the provider signed exactly those into the
 * receipt's params.
 */
import { type SeedFields, seedFieldsFor } from "@verity/core";
import type { FlagCode } from "./provider-flags.ts";
import type { TranscriptSampling } from "./transcript-check.ts";

/** The seed fields sent with one attempt, with the voucher amount they were derived from. */
export type SentSeed = SeedFields & { voucherAmount: bigint };

export function sentSeed(args: {
  chainId: number;
  channelId: `0x${string}`;
  voucherAmount: bigint;
  auditSecret: `0x${string}` | undefined;
}): SentSeed | undefined {
  if (!args.auditSecret) return undefined;
  return { ...seedFieldsFor({ ...args, auditSecret: args.auditSecret }), voucherAmount: args.voucherAmount };
}

/** The body's extension field carrying them (`undefined` drops a caller's own `verity` field). */
export function seedBodyField(seed: SentSeed | undefined) {
  return seed ? { seed_key: seed.seedKey, audit_commit: seed.auditCommit } : undefined;
}

/**
 * Whether the provider signed exactly the seed fields the client sent: a different seed key or
 * commitment is refused. Absent fields are accepted (an older provider, or an engine that cannot
 * sample with a seed key: its answer is audited without seed-synced replay).
 */
export function checkSeedFields(args: {
  sampling: TranscriptSampling;
  sent: { seedKey: `0x${string}`; auditCommit: `0x${string}` } | undefined;
  /** Also refuse params without the fields sent (a client that uses only seed-synced providers). */
  require?: boolean;
}):
  | { ok: true }
  | { ok: false; field: "seedKey" | "auditCommit"; signed: string | undefined; sent: string | undefined } {
  for (const field of ["seedKey", "auditCommit"] as const) {
    const signed = args.sampling[field];
    if (signed === undefined) {
      if (args.require && args.sent?.[field] !== undefined) return { ok: false, field, signed, sent: args.sent[field] };
      continue;
    }
    const sent = args.sent?.[field];
    if (sent === undefined || signed.toLowerCase() !== sent.toLowerCase()) return { ok: false, field, signed, sent };
  }
  return { ok: true };
}

/** The flag code and reason of a failed `checkSeedFields`. */
export function seedRefusal(check: Exclude<ReturnType<typeof checkSeedFields>, { ok: true }>): {
  code: FlagCode;
  reason: string;
} {
  const code: FlagCode =
    check.signed === undefined
      ? "missing_seed"
      : check.field === "seedKey"
        ? "seed_derivation_mismatch"
        : "audit_commit_mismatch";
  return {
    code,
    reason: `The receipt's params carry ${check.field} ${check.signed ?? "none"}, not the ${check.sent ?? "none"} sent`,
  };
}
