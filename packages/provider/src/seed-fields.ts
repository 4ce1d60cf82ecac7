/**
 * The seed fields of a paid request (`verity: { seed_key, audit_commit }` in the body, see
 * docs/ARCHITECTURE.md): the client's seed key for seed-synced sampling and its commitment to the
 * audit secret. Both are 32-byte hex; a malformed one is refused before any payment is taken
 * (`seed_key_invalid`), and a provider that requires seeds refuses a request without one
 * (`missing_seed`).
 *
 * A model whose engine cannot sample with a seed key (an OpenAI-compatible upstream: its sampler is
 * not ours) never claims seed-synced sampling: it drops the seed key and signs params without it,
 * so the receipt shows the client its answer was not seed-synced. The audit commitment is signed
 * either way (audit assignment does not depend on the engine).
 */
import { HEX32_PATTERN, RequestError } from "@verity/core";

export type RequestSeedFields = { seedKey?: `0x${string}`; auditCommit?: `0x${string}` };

function field(section: Record<string, unknown>, name: "seed_key" | "audit_commit"): `0x${string}` | undefined {
  const value = section[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || !HEX32_PATTERN.test(value)) {
    throw new RequestError(`verity.${name} must be 0x-prefixed 32-byte hex`, {
      code: "seed_key_invalid",
      hint: "Send verity.seed_key and verity.audit_commit as derived by the Verity SDK, or leave them out",
      details: { field: `verity.${name}` },
    });
  }
  return value.toLowerCase() as `0x${string}`;
}

/** Reads and checks the seed fields of a request body for a model (`seedSync`: its engine honours seed keys). */
export function requestSeedFields(args: {
  body: { verity?: unknown };
  seedSync: boolean;
  requireSeed: boolean;
}): RequestSeedFields {
  const section = args.body.verity;
  if (section !== undefined && section !== null && (typeof section !== "object" || Array.isArray(section))) {
    throw new RequestError("verity must be an object { seed_key, audit_commit }", {
      code: "seed_key_invalid",
      details: { field: "verity" },
    });
  }
  const s = (section ?? {}) as Record<string, unknown>;
  const seedKey = field(s, "seed_key");
  const auditCommit = field(s, "audit_commit");
  if (args.requireSeed && args.seedSync && (seedKey === undefined || auditCommit === undefined)) {
    throw new RequestError(
      "This provider requires seed-synced requests: send verity.seed_key and verity.audit_commit",
      {
        code: "missing_seed",
        hint: "Use a Verity SDK client that derives a seed key per voucher",
      },
    );
  }
  return {
    ...(seedKey !== undefined && args.seedSync ? { seedKey } : {}),
    ...(auditCommit === undefined ? {} : { auditCommit }),
  };
}
