/**
 * A committee member's vote on pooled evidence (`pooled-evidence.ts`). Every listed receipt must be
 * the disputed provider's (its channel pays the disputed agent and it is signed by the channel's
 * receipt signer), the disputed receipt must be one of them, every transcript must match its
 * receipt; then the member re-audits every sample on its own engine and runs the pooled test with
 * its own parameters, in the listed order, stopping at the first crossing (flips mode pools the
 * audits whose own re-audit is seed-synced). Guilty only when that
 * test decides `substitute`. Anything the member cannot check (a receipt it cannot verify, an audit
 * that errors, a re-audit without the seeded summary the test needs) is a not-guilty vote: a
 * validator's own failure never slashes a provider.
 */
import { type ChainClients, type ChannelReader, createChannelReader } from "@verity/chain";
import { type Deployment, receiptDomain, receiptFromJson, receiptTypes } from "@verity/core";
import { recoverTypedDataAddress } from "viem";
import type { AuditRunner } from "./audit-runner.ts";
import { receiptMismatches } from "./audit-verdict.ts";
import { receiptDigest } from "./evidence.ts";
import { transcriptOf } from "./intake.ts";
import type { ModelResolver } from "./model-resolver.ts";
import type { ReadPooled } from "./pooled-evidence.ts";
import { type PooledAudit, pooledOutcome, runSprt, type SprtParams, seededOf } from "./sprt.ts";
import { reasonOf } from "./validator-reasons.ts";

export type PooledDecision = { guilty: boolean; reason: string; tokens: number; seconds: number };

export async function decidePooled(args: {
  read: Extract<ReadPooled, { ok: true }>;
  dispute: { agentId: string; receiptHash: `0x${string}` };
  deployment: Deployment;
  publicClient: ChainClients["publicClient"];
  resolver: ModelResolver;
  runner: AuditRunner;
  /** This member's own test parameters (the evidence's are informational). */
  params: SprtParams;
}): Promise<PooledDecision> {
  const { samples } = args.read;
  let tokens = 0;
  let seconds = 0;
  const notGuilty = (reason: string): PooledDecision => ({ guilty: false, reason, tokens, seconds });
  if (samples.length > args.params.maxAudits) return notGuilty("pooled_too_many_audits");
  if (args.read.evidence.agentId !== args.dispute.agentId) return notGuilty("evidence_receipt_mismatch");
  const paymentChannels = args.deployment.contracts.PaymentChannels.address;
  const channels = createChannelReader({
    publicClient: args.publicClient,
    paymentChannels,
    fromBlock: BigInt(args.deployment.startBlock),
  });
  const ids = new Set<string>();
  for (const { id, sample } of samples) {
    const digest = receiptDigest({
      receipt: sample.receipt.receipt,
      chainId: args.deployment.chainId,
      paymentChannels,
    });
    if (
      sample.chainId !== args.deployment.chainId ||
      sample.paymentChannels.toLowerCase() !== paymentChannels.toLowerCase() ||
      digest.toLowerCase() !== id.toLowerCase() ||
      ids.has(digest.toLowerCase())
    ) {
      return notGuilty("evidence_receipt_mismatch");
    }
    ids.add(digest.toLowerCase());
    const { transcript, receipt } = transcriptOf(sample);
    if (receiptMismatches(transcript, receipt).length > 0) return notGuilty("evidence_transcript_mismatch");
    if (!(await receiptOfAgent({ ...args, sample, channels }))) return notGuilty("pooled_receipt_not_provider");
  }
  if (!ids.has(args.dispute.receiptHash.toLowerCase())) return notGuilty("evidence_receipt_mismatch");
  const outcomes: PooledAudit[] = [];
  for (const { id, sample, claimedSeeded } of samples) {
    let run: Awaited<ReturnType<AuditRunner["run"]>>;
    try {
      const served = await args.resolver.resolve(BigInt(sample.modelId));
      run = await args.runner.run({ engine: served.engine, sample, purpose: "committee" });
    } catch (error) {
      return notGuilty(reasonOf(error));
    }
    tokens += run.tokens;
    seconds += run.seconds;
    if (run.verdict.reasons.includes("receipt_mismatch")) return notGuilty("evidence_transcript_mismatch");
    const seeded = seededOf(run.verdict.stats);
    // Which audits are seed-synced is this member's own finding; one the challenger calls seeded
    // that this member cannot score is its own shortfall: not guilty.
    if (args.params.mode === "flips" && !seeded && claimedSeeded) return notGuilty("pooled_unseeded");
    const outcome = pooledOutcome({ id, mode: args.params.mode, pass: run.verdict.pass, seeded });
    if (outcome) outcomes.push(outcome);
  }
  if (outcomes.length === 0) return notGuilty("pooled_unseeded");
  const result = runSprt({ params: args.params, audits: outcomes });
  const summary = `S = ${result.llr.toFixed(2)} over ${result.used}/${outcomes.length} audits (bounds ${result.lower.toFixed(2)}, ${result.upper.toFixed(2)})`;
  return result.decision === "substitute"
    ? { guilty: true, reason: `pooled_substitute: ${summary}`, tokens, seconds }
    : notGuilty(`pooled_${result.decision}: ${summary}`);
}

/** The receipt's channel pays the disputed agent and the receipt is signed by that channel's signer. */
async function receiptOfAgent(args: {
  sample: Extract<ReadPooled, { ok: true }>["samples"][number]["sample"];
  dispute: { agentId: string };
  deployment: Deployment;
  channels: ChannelReader;
}): Promise<boolean> {
  try {
    const channel = await args.channels.configOf(args.sample.receipt.receipt.channelId as `0x${string}`);
    if (!channel) return false;
    if (channel.receiverAgentId.toString() !== args.dispute.agentId) return false;
    const signer = await recoverTypedDataAddress({
      domain: receiptDomain({
        chainId: args.deployment.chainId,
        verifyingContract: args.deployment.contracts.PaymentChannels.address,
      }),
      types: receiptTypes,
      primaryType: "Receipt",
      message: receiptFromJson(args.sample.receipt.receipt),
      signature: args.sample.receipt.signature as `0x${string}`,
    });
    return signer.toLowerCase() === channel.receiverSigner.toLowerCase();
  } catch {
    return false;
  }
}
