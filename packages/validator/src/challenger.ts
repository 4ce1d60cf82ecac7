/**
 * Turns failed verdicts into on-chain challenges: stores the evidence (canonical JSON of sample and
 * verdict, served at `<public url>/v1/evidence/<hash>`), makes sure Disputes may pull the challenge
 * bond, and calls `challenge`. A revert is recorded with the contract's reason code and not retried;
 * other failures (RPC) are retried a few times with backoff, then recorded with their code.
 */
import { type ChainClients, createChannelReader } from "@verity/chain";
import { disputesAbi } from "@verity/contracts";
import { BaseError, type Deployment } from "@verity/core";
import type { AuditRecord, AuditStore } from "./audit-store.ts";
import type { DisputeStore } from "./dispute-store.ts";
import { buildEvidence } from "./evidence.ts";
import type { ValidatorMetrics } from "./metrics.ts";
import { openChallenge } from "./open-challenge.ts";
import type { TxSender } from "./tx-sender.ts";
import { reasonOf } from "./validator-reasons.ts";

export type ValidatorEvent = Record<string, unknown> & { event: string };

export function createChallenger(options: {
  audits: AuditStore;
  disputes: DisputeStore;
  clients: ChainClients;
  deployment: Deployment;
  sender: TxSender;
  metrics: ValidatorMetrics;
  publicUrl: () => string;
  windows: () => Promise<{ commitWindow: number; revealWindow: number }>;
  /** Attempts for failures that are not reverts, with backoff (default 5). */
  maxAttempts?: number;
  onEvent?: (event: ValidatorEvent) => void;
  onError?: (error: unknown) => void;
}) {
  const { audits, clients, deployment } = options;
  const address = deployment.contracts.Disputes.address;
  const me = clients.account.address.toLowerCase();
  const read = clients.publicClient.readContract;
  // Disputes takes the challenged channel's terms (PaymentChannels does not store them).
  const channels = createChannelReader({
    publicClient: clients.publicClient,
    paymentChannels: deployment.contracts.PaymentChannels.address,
    fromBlock: BigInt(deployment.startBlock),
  });
  /** Backoff after failures that are not reverts (RPC trouble): 2 s, 4 s, 8 s, … */
  const retryAt = new Map<string, number>();

  /** Records a dispute this validator opened (from the chain's record of it). */
  async function recordDispute(args: {
    record: AuditRecord;
    disputeId: bigint;
    txHash: `0x${string}` | null;
    evidenceHash: `0x${string}`;
  }) {
    const { record, disputeId, evidenceHash } = args;
    const [dispute, windows] = await Promise.all([
      read({ address, abi: disputesAbi, functionName: "getDispute", args: [disputeId] }),
      options.windows(),
    ]);
    const openedAt = Number(dispute.openedAt);
    audits.challengeOpened({ id: record.id, disputeId, txHash: args.txHash });
    options.disputes.add(
      {
        disputeId: disputeId.toString(),
        role: "challenger",
        agentId: dispute.agentId.toString(),
        receiptHash: dispute.receiptHash,
        evidenceHash,
        evidenceUri: `${options.publicUrl()}/v1/evidence/${evidenceHash}`,
        openedAt,
        commitEnd: openedAt + windows.commitWindow,
        revealEnd: openedAt + windows.commitWindow + windows.revealWindow,
        auditId: record.id,
      },
      Date.now(),
    );
  }

  async function challengeOne(record: AuditRecord): Promise<void> {
    const sample = audits.sampleOf(record.id);
    if (!sample || !record.verdict) {
      audits.challengeRejected({ id: record.id, code: "internal_error" });
      return;
    }
    let evidenceHash: `0x${string}` | null = record.challenge?.evidenceHash ?? null;
    if (!evidenceHash) {
      const evidence = buildEvidence({ sample, verdict: record.verdict });
      audits.saveEvidence({ id: record.id, hash: evidence.hash, body: evidence.body, at: Date.now() });
      evidenceHash = evidence.hash;
    }
    // A challenge sent before a restart may have landed: the chain keeps one dispute per receipt.
    const existing = await read({ address, abi: disputesAbi, functionName: "disputeOfReceipt", args: [record.id] });
    if (existing !== 0n) {
      const dispute = await read({ address, abi: disputesAbi, functionName: "getDispute", args: [existing] });
      if (dispute.challenger.toLowerCase() === me) {
        await recordDispute({ record, disputeId: existing, txHash: null, evidenceHash });
        return;
      }
      reject(record, "already_challenged");
      return;
    }
    const channel = await channels.configOf(sample.receipt.receipt.channelId as `0x${string}`);
    if (!channel) {
      reject(record, "unknown_channel");
      return;
    }
    const evidenceURI = `${options.publicUrl()}/v1/evidence/${evidenceHash}`;
    const opened = await openChallenge({
      clients,
      deployment,
      sender: options.sender,
      label: `Challenging receipt ${record.id}`,
      sample,
      channel,
      evidenceHash,
      evidenceURI,
    });
    const { receipt } = opened;
    await recordDispute({ record, disputeId: opened.disputeId, txHash: receipt.transactionHash, evidenceHash });
    options.metrics.challenges.inc({ outcome: "opened" });
    options.onEvent?.({
      event: "challenge_opened",
      auditId: record.id,
      disputeId: opened.disputeId.toString(),
      agentId: opened.agentId.toString(),
      evidenceHash,
      evidenceURI,
      txHash: receipt.transactionHash,
    });
  }

  function reject(record: AuditRecord, code: string): void {
    audits.challengeRejected({ id: record.id, code });
    options.metrics.challenges.inc({ outcome: code });
    options.onEvent?.({ event: "challenge_rejected", auditId: record.id, agentId: record.agentId, code });
  }

  return {
    /** Sends every pending challenge (oldest first); a failure is reported and the next one is tried. */
    async challengePending(): Promise<void> {
      for (const record of audits.pendingChallenges()) {
        if ((retryAt.get(record.id) ?? 0) > Date.now()) continue;
        try {
          await challengeOne(record);
          retryAt.delete(record.id);
        } catch (error) {
          const revert = error instanceof BaseError && error.details.error !== undefined;
          const attempts = audits.challengeAttempted(record.id);
          // A revert is the chain's answer (reported as an event); anything else is an error worth seeing.
          if (!revert) options.onError?.(error);
          if (revert || attempts >= (options.maxAttempts ?? 5)) {
            retryAt.delete(record.id);
            reject(record, reasonOf(error));
          } else {
            retryAt.set(record.id, Date.now() + 2_000 * 2 ** (attempts - 1));
          }
        }
      }
    },
  };
}

export type Challenger = ReturnType<typeof createChallenger>;
