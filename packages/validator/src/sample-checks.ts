/**
 * What an audit sample must satisfy before it is queued: well-formed, for this chain and deployment,
 * for a model this validator runs, a transcript matching its receipt's commitments, a receipt signed
 * by the channel's receipt signer, and still inside the audit window; and for a receipt whose params
 * carry a seed key or audit commitment, a reveal whose secret opens the commitment, derives the seed
 * key, and whose draw selected the receipt. Each failure has its reason code; every one is a
 * rejection of the sample (the client's or this validator's problem) that records nothing and never
 * counts against the provider.
 */
import type { ChainClients, ChannelReader } from "@verity/chain";
import { disputesAbi } from "@verity/contracts";
import {
  auditCommitOf,
  type Deployment,
  deriveSeedKey,
  isAuditSelected,
  receiptDomain,
  receiptFromJson,
  receiptTypes,
} from "@verity/core";
import { recoverTypedDataAddress } from "viem";
import { receiptMismatches } from "./audit-verdict.ts";
import type { ChainClock } from "./chain-clock.ts";
import { receiptDigest } from "./evidence.ts";
import { type AuditSamplePayload, parseAuditSample, transcriptOf } from "./intake.ts";
import type { ModelResolver, ServedModel } from "./model-resolver.ts";
import { AuditRejected } from "./validator-reasons.ts";

/** Shape, chain and deployment checks (no chain access); returns the sample and its receipt digest. */
export function preflightSample(args: { body: unknown; deployment: Deployment }): {
  sample: AuditSamplePayload;
  receiptHash: `0x${string}`;
} {
  const sample = parseAuditSample(args.body);
  const { deployment } = args;
  if (sample.chainId !== deployment.chainId) {
    throw new AuditRejected(`The sample is for chain ${sample.chainId}, this validator follows ${deployment.chainId}`, {
      code: "wrong_chain",
      details: { chainId: sample.chainId, expected: deployment.chainId },
    });
  }
  const paymentChannels = deployment.contracts.PaymentChannels.address;
  if (sample.paymentChannels.toLowerCase() !== paymentChannels.toLowerCase()) {
    throw new AuditRejected("The sample is for another deployment", {
      code: "wrong_deployment",
      details: { paymentChannels: sample.paymentChannels, expected: paymentChannels },
    });
  }
  const r = sample.receipt.receipt;
  if (r.channelId.toLowerCase() !== sample.channelId.toLowerCase() || r.modelId !== sample.modelId) {
    throw new AuditRejected("The sample's channel or model differs from its receipt's", {
      code: "audit_sample_invalid",
      details: {
        channelId: sample.channelId,
        modelId: sample.modelId,
        receipt: { channelId: r.channelId, modelId: r.modelId },
      },
    });
  }
  if (r.promptTokens !== sample.promptTokenIds.length) {
    throw new AuditRejected("The prompt token ids do not match the receipt's prompt tokens", {
      code: "audit_sample_invalid",
      details: { promptTokens: r.promptTokens, promptTokenIds: sample.promptTokenIds.length },
    });
  }
  const { transcript, receipt } = transcriptOf(sample);
  const mismatched = receiptMismatches(transcript, receipt);
  if (mismatched.length > 0) {
    throw new AuditRejected(`The transcript does not match the receipt's ${mismatched.join(", ")}`, {
      code: "transcript_hash_mismatch",
      hint: "Send the token ids and sampling parameters the provider's receipt commits to",
      details: { mismatched },
    });
  }
  const receiptHash = receiptDigest({ receipt: r, chainId: deployment.chainId, paymentChannels });
  checkSeedReveal({ sample, chainId: deployment.chainId, receiptHash });
  return { sample, receiptHash };
}

/**
 * For a receipt whose params carry a seed key or audit commitment: the reveal must be there
 * (`missing_seed`), its secret must hash to the commitment (`audit_commit_mismatch`), the seed key
 * must be the one derived from this chain, the receipt's channel, the voucher amount and the secret,
 * with a voucher that covers the receipt's charged total (`seed_derivation_mismatch`: a seed of
 * another channel, chain, secret or voucher), and the draw must have selected this receipt under
 * the stated policy (`audit_not_selected`). A receipt without them (an older client or provider) is
 * audited as before, without seed-synced replay.
 */
export function checkSeedReveal(args: {
  sample: AuditSamplePayload;
  chainId: number;
  receiptHash: `0x${string}`;
}): void {
  const { sample } = args;
  const seedKey = sample.sampling?.seedKey;
  const auditCommit = sample.sampling?.auditCommit;
  if (seedKey === undefined && auditCommit === undefined) return;
  const reveal = sample.reveal;
  if (!reveal) {
    throw new AuditRejected("The receipt commits to a seed key or audit secret, but the sample reveals no secret", {
      code: "missing_seed",
      hint: "Send the SDK's sample with its `reveal` (audit secret, voucher amount, policy)",
    });
  }
  const r = sample.receipt.receipt;
  if (auditCommit !== undefined && auditCommitOf(reveal.auditSecret) !== auditCommit.toLowerCase()) {
    throw new AuditRejected("The revealed audit secret does not open the receipt's audit commitment", {
      code: "audit_commit_mismatch",
      details: { auditCommit },
    });
  }
  if (seedKey !== undefined) {
    const voucherAmount = BigInt(reveal.voucherAmount);
    const derived = deriveSeedKey({
      chainId: args.chainId,
      channelId: r.channelId,
      voucherAmount,
      auditSecret: reveal.auditSecret,
    });
    if (derived !== seedKey.toLowerCase() || voucherAmount < BigInt(r.cumulativeCharged)) {
      throw new AuditRejected("The receipt's seed key is not derived from its chain, channel, voucher and secret", {
        code: "seed_derivation_mismatch",
        details: { seedKey, derived, voucherAmount: reveal.voucherAmount, cumulativeCharged: r.cumulativeCharged },
      });
    }
  }
  // The draw is bound only through the commitment (a receipt without one is not checked for selection).
  if (auditCommit === undefined) return;
  const selected = isAuditSelected({
    pBase: reveal.policy.pBase,
    ...(reveal.policy.alwaysAuditAbove === undefined
      ? {}
      : { alwaysAuditAbove: BigInt(reveal.policy.alwaysAuditAbove) }),
    auditSecret: reveal.auditSecret,
    receiptDigest: args.receiptHash,
    charge: BigInt(r.charge),
  });
  if (!selected) {
    throw new AuditRejected("The commit-reveal draw did not select this receipt for audit", {
      code: "audit_not_selected",
      hint: "Only receipts the draw selects are audited; the client cannot pick them",
      details: { receiptHash: args.receiptHash, policy: reveal.policy },
    });
  }
}

/**
 * Chain checks: the model is one this validator runs, the channel exists for the sample's agent and
 * model, the receipt is signed by the channel's receipt signer (fixed at open), and the audit window
 * (from the later of the receipt's timestamp and the channel's latest claim) is still open.
 */
export async function verifySampleOnChain(args: {
  sample: AuditSamplePayload;
  deployment: Deployment;
  resolver: ModelResolver;
  /** The validator's channel reader (it caches the terms it has read from `ChannelOpened`). */
  channels: ChannelReader;
  clock: ChainClock;
  auditWindow: () => Promise<bigint>;
}): Promise<ServedModel> {
  const { sample, deployment } = args;
  const c = deployment.contracts;
  const served = await args.resolver.resolve(BigInt(sample.modelId));
  const channel = await args.channels.read(sample.channelId as `0x${string}`);
  const invalid = (message: string, details: Record<string, unknown>) =>
    new AuditRejected(message, { code: "receipt_invalid", details });
  if (channel === undefined || channel.payer === "0x0000000000000000000000000000000000000000") {
    throw invalid("The receipt's channel was never opened", { channelId: sample.channelId });
  }
  if (channel.receiverAgentId.toString() !== sample.agentId || channel.modelId.toString() !== sample.modelId) {
    throw invalid("The receipt's channel is for another agent or model", {
      agentId: sample.agentId,
      modelId: sample.modelId,
      channel: { agentId: channel.receiverAgentId.toString(), modelId: channel.modelId.toString() },
    });
  }
  let signer: string;
  try {
    signer = await recoverTypedDataAddress({
      domain: receiptDomain({ chainId: deployment.chainId, verifyingContract: c.PaymentChannels.address }),
      types: receiptTypes,
      primaryType: "Receipt",
      message: receiptFromJson(sample.receipt.receipt),
      signature: sample.receipt.signature as `0x${string}`,
    });
  } catch {
    throw invalid("The receipt signature does not recover", {});
  }
  // The signer was fixed when the channel opened (Disputes checks the same address).
  if (signer.toLowerCase() !== channel.receiverSigner.toLowerCase()) {
    throw invalid("The receipt is not signed by the channel's receipt signer", {
      signer,
      receiverSigner: channel.receiverSigner,
    });
  }
  // As Disputes: open until an audit window after the later of the receipt's timestamp and the
  // channel's latest claim (a claim re-opens the window for the receipts it pays).
  const timestamp = BigInt(sample.receipt.receipt.timestamp);
  const from = timestamp > channel.lastClaimedAt ? timestamp : channel.lastClaimedAt;
  const closesAt = from + (await args.auditWindow());
  const now = BigInt(await args.clock.now());
  if (closesAt < now) {
    throw new AuditRejected("The receipt is older than the audit window", {
      code: "challenge_window_closed",
      details: { closedAt: closesAt.toString(), now: now.toString() },
    });
  }
  return served;
}

/** Reads Disputes' audit window (once it was read successfully). */
export function auditWindowReader(args: { publicClient: ChainClients["publicClient"]; disputes: `0x${string}` }) {
  let cached: bigint | undefined;
  return async (): Promise<bigint> => {
    cached ??= BigInt(
      await args.publicClient.readContract({ address: args.disputes, abi: disputesAbi, functionName: "auditWindow" }),
    );
    return cached;
  };
}
