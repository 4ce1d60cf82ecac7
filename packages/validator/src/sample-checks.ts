/**
 * What an audit sample must satisfy before it is queued: well-formed, for this chain and deployment,
 * for a model this validator runs, a transcript matching its receipt's commitments, a receipt signed
 * by the channel's receipt signer, and still inside the audit window. Each failure has its reason code.
 */
import { type ChainClients, createChannelReader } from "@verity/chain";
import { disputesAbi } from "@verity/contracts";
import { type Deployment, receiptDomain, receiptFromJson, receiptTypes } from "@verity/core";
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
      code: "audit_sample_invalid",
      hint: "Send the token ids and sampling parameters the provider's receipt commits to",
      details: { mismatched },
    });
  }
  return { sample, receiptHash: receiptDigest({ receipt: r, chainId: deployment.chainId, paymentChannels }) };
}

/**
 * Chain checks: the model is one this validator runs, the channel exists for the sample's agent and
 * model, the receipt is signed by the channel's receipt signer (fixed at open), and the audit window
 * (from the later of the receipt's timestamp and the channel's latest claim) is still open.
 */
export async function verifySampleOnChain(args: {
  sample: AuditSamplePayload;
  deployment: Deployment;
  publicClient: ChainClients["publicClient"];
  resolver: ModelResolver;
  clock: ChainClock;
  auditWindow: () => Promise<bigint>;
}): Promise<ServedModel> {
  const { sample, deployment, publicClient } = args;
  const c = deployment.contracts;
  const served = await args.resolver.resolve(BigInt(sample.modelId));
  const channel = await createChannelReader({
    publicClient,
    paymentChannels: c.PaymentChannels.address,
    fromBlock: BigInt(deployment.startBlock),
  }).read(sample.channelId as `0x${string}`);
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
