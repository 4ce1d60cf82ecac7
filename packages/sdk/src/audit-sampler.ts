/**
 * Which responses get audited. The draw is `keccak256(receiptSignature ‖ clientSecret)` read as a
 * uint256, and a response is sampled when it is below `p · 2^256`. The provider signs the receipt
 * before it can know the client's secret, so it cannot tell which answers will be checked; the
 * client can always show afterwards why a given receipt was (or was not) sampled.
 */

import { ConfigError } from "@verity/core";
import { concat, type Hex, hexToBigInt, keccak256 } from "viem";

const TWO_256 = 1n << 256n;
/** Probabilities are resolved to 1e-12. */
const SCALE = 1_000_000_000_000;

/** `floor(p · 2^256)`: draws below it are sampled. */
export function auditThreshold(p: number): bigint {
  if (!Number.isFinite(p) || p < 0 || p > 1) {
    throw new ConfigError(`The audit probability ${p} is not between 0 and 1`, {
      code: "invalid_parameter",
      hint: "Pass audit.p as a number in [0, 1], e.g. 0.02",
    });
  }
  return (TWO_256 * BigInt(Math.round(p * SCALE))) / BigInt(SCALE);
}

/** The uniform draw of a receipt signature under a secret. */
export function auditDraw(signature: Hex, secret: Hex): bigint {
  return hexToBigInt(keccak256(concat([signature, secret])));
}

/** Whether the receipt signed `signature` is audited, for probability `p` and the client's secret. */
export function shouldAudit(args: { signature: Hex; secret: Hex; p: number }): boolean {
  return auditDraw(args.signature, args.secret) < auditThreshold(args.p);
}

/** A sampler bound to one secret and probability. */
export function createAuditSampler(args: { secret: Hex; p: number }) {
  const threshold = auditThreshold(args.p);
  return {
    p: args.p,
    sample(signature: Hex): boolean {
      return auditDraw(signature, args.secret) < threshold;
    },
  };
}

export type AuditSampler = ReturnType<typeof createAuditSampler>;
