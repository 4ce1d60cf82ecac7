/**
 * Which verified responses get audited: the commit–reveal draw of `@verity/core`'s
 * `audit-assignment.ts`. Each channel has its own random audit secret (kept in the channel store);
 * every request on it sends `auditCommit = keccak256("verity.audit-commit.v1" ‖ secret)`, which the
 * provider signs into the receipt's params, and the response is audited when
 * `keccak256("verity.audit.v1" ‖ secret ‖ receiptDigest) < p(charge) · 2^256`, with
 * `p(charge) = min(1, pBase + charge / alwaysAuditAbove)`. The provider signs the receipt without
 * knowing the secret, so it cannot tell which answers will be checked; the secret travels only with
 * an audit, and a validator holding it recomputes the draw (it refuses an unselected receipt).
 * Once a receipt is selected its channel moves to a fresh secret (`retire`), so whoever sees the
 * reveal cannot predict that channel's later draws.
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

/** What the sampler needs of a verified transcript: its channel, receipt and the commitment its params carry. */
export type SampledReceipt = {
  channelId: `0x${string}`;
  receipt: SignedReceiptJson;
  sampling?: { auditCommit?: `0x${string}` | undefined } | null;
};

/** A sampler for one deployment, policy and store of per-channel secrets. */
export function createAuditSampler(args: {
  chainId: number;
  paymentChannels: `0x${string}`;
  policy: AuditPolicy;
  /**
   * The secret a receipt was drawn under: the one whose commitment its params carry, else the
   * channel's current one; undefined for a channel or commitment this client does not know (never audited).
   */
  secretOf: (t: { channelId: `0x${string}`; auditCommit?: `0x${string}` }) => Hex | undefined;
  /** Called for a selected receipt's commitment: the channel moves to a fresh secret before it is revealed. */
  retire?: (channelId: `0x${string}`, auditCommit: `0x${string}`) => void;
}) {
  validateAuditPolicy(args.policy);
  const policy: AuditPolicy = { ...args.policy };
  const secretOf = (t: SampledReceipt) =>
    args.secretOf({
      channelId: t.channelId,
      ...(t.sampling?.auditCommit ? { auditCommit: t.sampling.auditCommit } : {}),
    });
  return {
    policy,
    /** The audit probability threshold of a charge (draws below it are audited). */
    threshold: (charge: bigint) => auditThreshold({ ...policy, charge }),
    /** Whether the verified receipt is selected for audit. */
    sample(t: SampledReceipt): boolean {
      const auditSecret = secretOf(t);
      if (!auditSecret) return false;
      const receiptDigest = receiptDigestOf({
        receipt: t.receipt.receipt,
        chainId: args.chainId,
        paymentChannels: args.paymentChannels,
      });
      return isAuditSelected({ ...policy, auditSecret, receiptDigest, charge: BigInt(t.receipt.receipt.charge) });
    },
    /** The secret to reveal with a selected receipt (only for one whose params commit to it). */
    revealable(t: SampledReceipt): Hex | undefined {
      return t.sampling?.auditCommit ? secretOf(t) : undefined;
    },
    /** A selected receipt's secret is about to be revealed: later requests on its channel use a fresh one. */
    retire(t: SampledReceipt): void {
      if (t.sampling?.auditCommit) args.retire?.(t.channelId, t.sampling.auditCommit);
    },
  };
}

export type AuditSampler = ReturnType<typeof createAuditSampler>;
