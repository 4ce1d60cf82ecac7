/**
 * Which verified responses get audited: the commit–reveal draw of `@verity/core`'s
 * `audit-assignment.ts`. Each channel has its own random audit secret (kept in the channel store);
 * every request on it sends `auditCommit = keccak256("verity.audit-commit.v1" ‖ secret)`, which the
 * provider signs into the receipt's params, and the response is audited when
 * `keccak256("verity.audit.v1" ‖ secret ‖ receiptDigest) < p(charge) · 2^256`, with
 * `p(charge) = min(1, pBase + charge / alwaysAuditAbove)`. The provider signs the receipt without
 * knowing the secret, so it cannot tell which answers will be checked; the secret travels only with
 * an audit, and a validator holding it recomputes the draw (it refuses an unselected receipt).
 */

import { createStaticTypedDataHasher } from "@verity/chain";
import {
  type AuditPolicy,
  auditThreshold,
  isAuditSelected,
  receiptDomain,
  receiptFromJson,
  receiptTypes,
  type SignedReceiptJson,
  validateAuditPolicy,
} from "@verity/core";
import { bytesToHex, type Hex, hashTypedData } from "viem";

export type { AuditPolicy } from "@verity/core";
export { auditDraw, auditThreshold, isAuditSelected } from "@verity/core";

const hasher = createStaticTypedDataHasher();

/** The EIP-712 digest of a receipt (what the draw hashes with the secret). */
export function receiptDigestOf(args: {
  receipt: SignedReceiptJson["receipt"];
  chainId: number;
  paymentChannels: `0x${string}`;
}): Hex {
  const typed = {
    domain: receiptDomain({ chainId: args.chainId, verifyingContract: args.paymentChannels }),
    types: receiptTypes,
    primaryType: "Receipt" as const,
    message: receiptFromJson(args.receipt),
  };
  const native = hasher.digest(typed as never);
  return native ? bytesToHex(native) : hashTypedData(typed);
}

/** A sampler for one deployment, policy and store of per-channel secrets. */
export function createAuditSampler(args: {
  chainId: number;
  paymentChannels: `0x${string}`;
  policy: AuditPolicy;
  /** The channel's audit secret (undefined for a channel this client does not know: never audited). */
  secretOf: (channelId: `0x${string}`) => Hex | undefined;
}) {
  validateAuditPolicy(args.policy);
  const policy: AuditPolicy = { ...args.policy };
  return {
    policy,
    /** The audit probability threshold of a charge (draws below it are audited). */
    threshold: (charge: bigint) => auditThreshold({ ...policy, charge }),
    /** Whether the verified receipt on `channelId` is selected for audit. */
    sample(t: { channelId: `0x${string}`; receipt: SignedReceiptJson }): boolean {
      const auditSecret = args.secretOf(t.channelId);
      if (!auditSecret) return false;
      const receiptDigest = receiptDigestOf({
        receipt: t.receipt.receipt,
        chainId: args.chainId,
        paymentChannels: args.paymentChannels,
      });
      return isAuditSelected({ ...policy, auditSecret, receiptDigest, charge: BigInt(t.receipt.receipt.charge) });
    },
    secretOf: args.secretOf,
  };
}

export type AuditSampler = ReturnType<typeof createAuditSampler>;
