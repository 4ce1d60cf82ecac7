/**
 * Which paid requests are audited, decided by a commit–reveal draw no one can steer:
 *
 *   draw = keccak256(encodePacked("verity.audit.v1", auditSecret:bytes32, receiptDigest:bytes32)) as uint256
 *   audited ⇔ draw < threshold(charge),   threshold = floor(p(charge) · 2^256)
 *   p(charge) = min(1, pBase + charge / alwaysAuditAbove)      (p = pBase without alwaysAuditAbove)
 *
 * The client commits to `auditSecret` (`auditCommit`, bound into the receipt's params) before the
 * answer, the provider signs the receipt (its EIP-712 digest) without knowing the secret, and the
 * secret is revealed only to auditors. So the provider cannot tell audited requests from the others;
 * and because anyone holding the revealed secret can recompute every draw of the channel, neither a
 * validator nor the client can skip or pick audits. Every request charging at least
 * `alwaysAuditAbove` has p = 1. The arithmetic is exact (bigints), so both sides agree to the unit.
 */
import { encodePacked, hexToBigInt, keccak256 } from "viem";
import { ConfigError } from "./errors.ts";
import { HEX32_PATTERN } from "./sampling-seed.ts";

export const AUDIT_DRAW_DOMAIN = "verity.audit.v1";

const TWO_256 = 1n << 256n;
/** Probabilities are resolved to 1e-12. */
const SCALE = 1_000_000_000_000n;

/** The client's audit policy (also sent with every audit, so the validator checks selection). */
export type AuditPolicy = {
  /** Audit probability of a request with no charge, in [0, 1]. */
  pBase: number;
  /** Charge (token base units) from which a request is always audited; absent: p = pBase for every charge. */
  alwaysAuditAbove?: bigint;
};

function pScaled(p: number): bigint {
  if (!Number.isFinite(p) || p < 0 || p > 1) {
    throw new ConfigError(`The audit probability ${p} is not between 0 and 1`, {
      code: "invalid_parameter",
      hint: "Pass audit.p as a number in [0, 1], e.g. 0.02",
    });
  }
  return BigInt(Math.round(p * Number(SCALE)));
}

/** Checks a policy (throws `invalid_parameter`). */
export function validateAuditPolicy(policy: AuditPolicy): void {
  pScaled(policy.pBase);
  if (policy.alwaysAuditAbove !== undefined && policy.alwaysAuditAbove <= 0n) {
    throw new ConfigError(`alwaysAuditAbove ${policy.alwaysAuditAbove} is not a positive amount`, {
      code: "invalid_parameter",
      hint: "Pass a charge in token base units, e.g. 1000000n for one whole 6-decimal token",
    });
  }
}

/** `floor(p(charge) · 2^256)`: draws below it are audited. */
export function auditThreshold(args: AuditPolicy & { charge?: bigint }): bigint {
  validateAuditPolicy(args);
  const base = pScaled(args.pBase);
  const charge = args.charge ?? 0n;
  const above = args.alwaysAuditAbove;
  if (above === undefined || charge <= 0n) return (TWO_256 * base) / SCALE;
  if (charge >= above) return TWO_256;
  // p = base/SCALE + charge/above = (base·above + charge·SCALE) / (SCALE·above)
  const threshold = (TWO_256 * (base * above + charge * SCALE)) / (SCALE * above);
  return threshold > TWO_256 ? TWO_256 : threshold;
}

/** The audit probability of a charge under a policy (a float, for display and statistics). */
export function auditProbability(args: AuditPolicy & { charge?: bigint }): number {
  return Number((auditThreshold(args) * SCALE + TWO_256 / 2n) / TWO_256) / Number(SCALE);
}

/** The uniform 256-bit draw of the receipt with EIP-712 digest `receiptDigest` under `auditSecret`. */
export function auditDraw(args: { auditSecret: string; receiptDigest: string }): bigint {
  for (const [name, value] of [
    ["auditSecret", args.auditSecret],
    ["receiptDigest", args.receiptDigest],
  ] as const) {
    if (!HEX32_PATTERN.test(value)) throw new RangeError(`${name} must be 0x-prefixed 32-byte hex`);
  }
  return hexToBigInt(
    keccak256(
      encodePacked(
        ["string", "bytes32", "bytes32"],
        [AUDIT_DRAW_DOMAIN, args.auditSecret as `0x${string}`, args.receiptDigest as `0x${string}`],
      ),
    ),
  );
}

/** Whether the receipt (`receiptDigest`, charging `charge`) is selected for audit. */
export function isAuditSelected(
  args: AuditPolicy & { auditSecret: string; receiptDigest: string; charge: bigint },
): boolean {
  return auditDraw(args) < auditThreshold(args);
}
