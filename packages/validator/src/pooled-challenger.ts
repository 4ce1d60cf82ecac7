/**
 * Pooled challenges: when the pooled test over a provider's audits decides `substitute` and no
 * listed audit is challenged on its own, build the pooled evidence (every logged audit of the
 * segment, in log order), store it (served at `/v1/evidence/<hash>`) and challenge the segment's
 * strongest receipt with it — the contract takes one receipt per dispute, the document carries the
 * rest. Each segment is challenged at most once; a revert is recorded with its reason code.
 */
import { type ChainClients, createChannelReader } from "@verity/chain";
import { disputesAbi } from "@verity/contracts";
import { BaseError, type Deployment } from "@verity/core";
import type { AuditStore } from "./audit-store.ts";
import type { ValidatorEvent } from "./challenger.ts";
import type { DisputeStore } from "./dispute-store.ts";
import type { ValidatorMetrics } from "./metrics.ts";
import { openChallenge } from "./open-challenge.ts";
import { buildPooledEvidence } from "./pooled-evidence.ts";
import { type ProviderEvidence, ZERO_HEAD } from "./provider-evidence.ts";
import type { PooledSegment, SprtParams } from "./sprt.ts";
import type { TxSender } from "./tx-sender.ts";
import { reasonOf } from "./validator-reasons.ts";

/** The evidence document of one substitute segment, or the reason it cannot be built. */
export function pooledEvidenceFor(args: {
  audits: AuditStore;
  evidence: ProviderEvidence;
  agentId: string;
  segment: PooledSegment;
  params: SprtParams;
}): { body: string; hash: `0x${string}`; strongest: `0x${string}` } | { code: string } {
  const log = args.evidence.log(args.agentId);
  const first = log.findIndex((a) => a.id === args.segment.ids[0]);
  const last = log.findIndex((a) => a.id === args.segment.ids.at(-1));
  if (first < 0 || last < first) return { code: "internal_error" };
  // The whole stretch of the log, so the chain links without gaps (audits the mode does not pool included).
  const slice = log.slice(first, last + 1);
  if (slice.length > args.params.maxAudits) return { code: "pooled_too_many_audits" };
  const listed = [];
  for (const entry of slice) {
    const record = args.audits.get(entry.id);
    const sample = args.audits.sampleOf(entry.id);
    if (!record?.verdict || !sample) return { code: "internal_error" };
    if (record.challenge && record.challenge.status !== "rejected") return { code: "covered_by_single_challenge" };
    const { head: _head, ...outcome } = entry;
    listed.push({ id: entry.id, sample, verdict: record.verdict, outcome });
  }
  const chainBefore = first === 0 ? ZERO_HEAD : (log[first - 1]?.head ?? ZERO_HEAD);
  const pooledOnly = listed.filter((a) => args.params.mode === "audits" || a.outcome.seeded);
  const built = buildPooledEvidence({ agentId: args.agentId, params: args.params, chainBefore, audits: listed });
  // The strongest receipt is chosen among the audits the test pools.
  return pooledOnly.length === 0 ? { code: "internal_error" } : built;
}

export function createPooledChallenger(options: {
  audits: AuditStore;
  evidence: ProviderEvidence;
  disputes: DisputeStore;
  clients: ChainClients;
  deployment: Deployment;
  sender: TxSender;
  metrics: ValidatorMetrics;
  params: SprtParams;
  publicUrl: () => string;
  windows: () => Promise<{ commitWindow: number; revealWindow: number }>;
  onEvent?: (event: ValidatorEvent) => void;
  onError?: (error: unknown) => void;
}) {
  const { clients, deployment, evidence, params } = options;
  const address = deployment.contracts.Disputes.address;
  const read = clients.publicClient.readContract;
  // Disputes takes the challenged channel's terms (PaymentChannels does not store them).
  const channels = createChannelReader({
    publicClient: clients.publicClient,
    paymentChannels: deployment.contracts.PaymentChannels.address,
    fromBlock: BigInt(deployment.startBlock),
  });

  async function challengeSegment(agentId: string, segment: PooledSegment): Promise<void> {
    const built = pooledEvidenceFor({ audits: options.audits, evidence, agentId, segment, params });
    if ("code" in built) {
      evidence.challenge({
        agentId,
        segment,
        strongest: segment.ids[0] as `0x${string}`,
        status: "rejected",
        code: built.code,
      });
      options.onEvent?.({ event: "pooled_challenge_rejected", agentId, code: built.code, audits: segment.ids.length });
      return;
    }
    const { strongest, hash } = built;
    const record = options.audits.get(strongest);
    const sample = options.audits.sampleOf(strongest);
    if (!record || !sample) return;
    options.audits.saveEvidence({ id: strongest, hash, body: built.body, at: Date.now() });
    evidence.challenge({ agentId, segment, strongest, status: "pending", evidenceHash: hash });
    const existing = await read({ address, abi: disputesAbi, functionName: "disputeOfReceipt", args: [strongest] });
    if (existing !== 0n) {
      evidence.challenge({ agentId, segment, strongest, status: "rejected", code: "already_challenged" });
      return;
    }
    const channel = await channels.configOf(sample.receipt.receipt.channelId as `0x${string}`);
    if (!channel) {
      evidence.challenge({ agentId, segment, strongest, status: "rejected", code: "unknown_channel" });
      return;
    }
    const evidenceURI = `${options.publicUrl()}/v1/evidence/${hash}`;
    const { receipt, disputeId } = await openChallenge({
      clients,
      deployment,
      sender: options.sender,
      label: `Challenging receipt ${strongest} with pooled evidence`,
      sample,
      channel,
      evidenceHash: hash,
      evidenceURI,
    });
    const [dispute, windows] = await Promise.all([
      read({ address, abi: disputesAbi, functionName: "getDispute", args: [disputeId] }),
      options.windows(),
    ]);
    const openedAt = Number(dispute.openedAt);
    options.audits.challengeOpened({ id: strongest, disputeId, txHash: receipt.transactionHash });
    evidence.challenge({ agentId, segment, strongest, status: "opened", evidenceHash: hash, disputeId });
    options.disputes.add(
      {
        disputeId: disputeId.toString(),
        role: "challenger",
        agentId: dispute.agentId.toString(),
        receiptHash: dispute.receiptHash,
        evidenceHash: hash,
        evidenceUri: evidenceURI,
        openedAt,
        commitEnd: openedAt + windows.commitWindow,
        revealEnd: openedAt + windows.commitWindow + windows.revealWindow,
        auditId: strongest,
      },
      Date.now(),
    );
    options.metrics.challenges.inc({ outcome: "opened" });
    options.onEvent?.({
      event: "pooled_challenge_opened",
      agentId,
      disputeId: disputeId.toString(),
      strongest,
      audits: segment.ids.length,
      llr: segment.llr,
      evidenceHash: hash,
      evidenceURI,
      txHash: receipt.transactionHash,
    });
  }

  return {
    /** Challenges every substitute segment not challenged yet; a revert is final, RPC trouble is retried next time. */
    async challengePooled(): Promise<void> {
      for (const agentId of evidence.agents()) {
        for (const segment of evidence.unchallenged(agentId, params)) {
          try {
            await challengeSegment(agentId, segment);
          } catch (error) {
            if (error instanceof BaseError && error.details.error !== undefined) {
              evidence.challenge({
                agentId,
                segment,
                strongest: segment.ids[0] as `0x${string}`,
                status: "rejected",
                code: reasonOf(error),
              });
              options.metrics.challenges.inc({ outcome: reasonOf(error) });
            } else {
              options.onError?.(error);
            }
          }
        }
      }
    },
  };
}

export type PooledChallenger = ReturnType<typeof createPooledChallenger>;
