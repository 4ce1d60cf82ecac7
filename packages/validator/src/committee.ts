/**
 * Committee duty and dispute settlement. For each dispute this validator sits on: fetch the
 * evidence, check its hash and that its receipt is the disputed one, re-audit the sample with its
 * own engine (the challenger's verdict is never trusted), store vote + random salt, commit during
 * the commit window, reveal after it (chain time; an early reveal is retried), and resolve after
 * the reveal window. Evidence that cannot be verified is a not-guilty vote. Pooled evidence (many
 * audits of one provider) is re-audited in full and re-tested (`pooled-verdict.ts`).
 */
import { randomBytes } from "node:crypto";
import type { ChainClients } from "@verity/chain";
import { disputesAbi } from "@verity/contracts";
import { BaseError, type Deployment } from "@verity/core";
import { encodeAbiParameters, keccak256 } from "viem";
import type { AuditRunner } from "./audit-runner.ts";
import { receiptMismatches } from "./audit-verdict.ts";
import type { ChainClock } from "./chain-clock.ts";
import type { ValidatorEvent } from "./challenger.ts";
import { readOutcome, resolveDispute } from "./dispute-resolution.ts";
import type { DisputeRecord, DisputeStore } from "./dispute-store.ts";
import { readEvidence, receiptDigest } from "./evidence.ts";
import { transcriptOf } from "./intake.ts";
import type { ValidatorMetrics } from "./metrics.ts";
import type { ModelResolver } from "./model-resolver.ts";
import { readPooledEvidence } from "./pooled-evidence.ts";
import { decidePooled } from "./pooled-verdict.ts";
import { DEFAULT_SPRT, type SprtParams } from "./sprt.ts";
import type { TxSender } from "./tx-sender.ts";
import { reasonOf } from "./validator-reasons.ts";

/** `Disputes.commitmentOf(disputeId, guilty, salt, voter)`. */
export function commitmentOf(args: { disputeId: bigint; guilty: boolean; salt: `0x${string}`; voter: `0x${string}` }) {
  return keccak256(
    encodeAbiParameters(
      [{ type: "uint256" }, { type: "bool" }, { type: "bytes32" }, { type: "address" }],
      [args.disputeId, args.guilty, args.salt, args.voter],
    ),
  );
}

/** Fetches evidence bytes over http(s), bounded in size and time. */
export async function fetchEvidence(uri: string, options: { timeoutMs: number; maxBytes: number }): Promise<string> {
  if (!/^https?:\/\//.test(uri)) throw new Error(`evidence URI ${uri} is not http(s)`);
  const response = await fetch(uri, { signal: AbortSignal.timeout(options.timeoutMs) });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`evidence fetch answered HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get("content-length") ?? 0);
  if (declared > options.maxBytes) {
    await response.body?.cancel();
    throw new Error(`evidence of ${declared} bytes exceeds ${options.maxBytes}`);
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length > options.maxBytes) throw new Error(`evidence exceeds ${options.maxBytes} bytes`);
  return new TextDecoder().decode(bytes);
}

export function createCommittee(options: {
  clients: ChainClients;
  deployment: Deployment;
  sender: TxSender;
  store: DisputeStore;
  resolver: ModelResolver;
  runner: AuditRunner;
  clock: ChainClock;
  metrics: ValidatorMetrics;
  /** This member's pooled-test parameters for pooled evidence (default `DEFAULT_SPRT`). */
  sprt?: SprtParams;
  /** Chain seconds a member waits after the reveal window before resolving itself (default 60). */
  resolveGraceSeconds?: number;
  evidenceTimeoutMs?: number;
  maxEvidenceBytes?: number;
  onEvent?: (event: ValidatorEvent) => void;
  onError?: (error: unknown) => void;
}) {
  const { clients, deployment, store } = options;
  const address = deployment.contracts.Disputes.address;
  const me = clients.account.address;

  /** The vote on `d`, or undefined to try again later (evidence not reachable yet). */
  async function decide(
    d: DisputeRecord,
    now: number,
  ): Promise<{ guilty: boolean; reason: string; tokens: number; seconds: number } | undefined> {
    const notGuilty = (reason: string) => ({ guilty: false, reason, tokens: 0, seconds: 0 });
    let body: string;
    try {
      body = await fetchEvidence(d.evidenceUri, {
        timeoutMs: options.evidenceTimeoutMs ?? 10_000,
        maxBytes: options.maxEvidenceBytes ?? 16 * 1024 * 1024,
      });
    } catch (error) {
      store.evidenceAttempted(d.disputeId);
      // Keep trying during the first half of the commit window, then vote on what is known.
      if (now < d.openedAt + (d.commitEnd - d.openedAt) / 2) return undefined;
      options.onError?.(error);
      return notGuilty("evidence_unavailable");
    }
    const pooled = readPooledEvidence({ body, evidenceHash: d.evidenceHash });
    if (pooled.ok) {
      return decidePooled({
        read: pooled,
        dispute: d,
        deployment,
        publicClient: clients.publicClient,
        resolver: options.resolver,
        runner: options.runner,
        params: options.sprt ?? DEFAULT_SPRT,
      });
    }
    if (pooled.reason !== "evidence_not_pooled") return notGuilty(pooled.reason);
    const evidence = readEvidence({ body, evidenceHash: d.evidenceHash });
    if (!evidence.ok) return notGuilty(evidence.reason);
    const { sample } = evidence;
    const paymentChannels = deployment.contracts.PaymentChannels.address;
    if (
      sample.chainId !== deployment.chainId ||
      sample.paymentChannels.toLowerCase() !== paymentChannels.toLowerCase() ||
      receiptDigest({ receipt: sample.receipt.receipt, chainId: deployment.chainId, paymentChannels }).toLowerCase() !==
        d.receiptHash.toLowerCase()
    ) {
      return notGuilty("evidence_receipt_mismatch");
    }
    const { transcript, receipt } = transcriptOf(sample);
    if (receiptMismatches(transcript, receipt).length > 0) return notGuilty("evidence_transcript_mismatch");
    let served: Awaited<ReturnType<ModelResolver["resolve"]>>;
    try {
      served = await options.resolver.resolve(BigInt(sample.modelId));
    } catch (error) {
      return notGuilty(reasonOf(error));
    }
    const run = await options.runner.run({ engine: served.engine, sample, purpose: "committee" });
    const { verdict } = run;
    return {
      guilty: !verdict.pass,
      reason: verdict.pass ? "audit_passed" : `audit_failed: ${verdict.reasons.join(", ")}`,
      tokens: run.tokens,
      seconds: run.seconds,
    };
  }

  async function voteOnChain(disputeId: bigint) {
    return clients.publicClient.readContract({
      address,
      abi: disputesAbi,
      functionName: "voteOf",
      args: [disputeId, me],
    });
  }

  async function commit(d: DisputeRecord, now: number): Promise<void> {
    const id = BigInt(d.disputeId);
    const vote = await voteOnChain(id);
    if (vote.committed) return store.setDuty(d.disputeId, "committed");
    if (now > d.commitEnd) return store.setDuty(d.disputeId, "missed");
    const guilty = d.guilty === true;
    const salt = d.salt as `0x${string}`;
    const receipt = await options.sender.send(`Committing a vote on dispute ${id}`, {
      address,
      abi: disputesAbi,
      functionName: "commitVote",
      args: [id, commitmentOf({ disputeId: id, guilty, salt, voter: me })],
    });
    store.setDuty(d.disputeId, "committed", { commitTx: receipt.transactionHash });
    options.metrics.votes.inc({ phase: "commit", vote: guilty ? "guilty" : "not_guilty" });
    options.onEvent?.({
      event: "vote_committed",
      disputeId: d.disputeId,
      guilty,
      reason: d.reason,
      txHash: receipt.transactionHash,
    });
  }

  async function reveal(d: DisputeRecord, now: number): Promise<void> {
    if (now <= d.commitEnd) return;
    const id = BigInt(d.disputeId);
    if (now > d.revealEnd) {
      const vote = await voteOnChain(id);
      return store.setDuty(d.disputeId, vote.revealed ? "revealed" : "missed");
    }
    const guilty = d.guilty === true;
    try {
      const receipt = await options.sender.send(`Revealing the vote on dispute ${id}`, {
        address,
        abi: disputesAbi,
        functionName: "revealVote",
        args: [id, guilty, d.salt as `0x${string}`],
      });
      store.setDuty(d.disputeId, "revealed", { revealTx: receipt.transactionHash });
      options.metrics.votes.inc({ phase: "reveal", vote: guilty ? "guilty" : "not_guilty" });
      options.onEvent?.({ event: "vote_revealed", disputeId: d.disputeId, guilty, txHash: receipt.transactionHash });
    } catch (error) {
      const code = error instanceof BaseError ? error.code : undefined;
      if (code === "not_reveal_window") return; // the chain's clock is behind ours: next tick
      if (code === "already_revealed") return store.setDuty(d.disputeId, "revealed");
      throw error;
    }
  }

  async function settle(d: DisputeRecord, now: number): Promise<void> {
    const grace = d.role === "challenger" ? 0 : (options.resolveGraceSeconds ?? 60);
    if (now <= d.revealEnd + grace) return;
    const onChain = await clients.publicClient.readContract({
      address,
      abi: disputesAbi,
      functionName: "getDispute",
      args: [BigInt(d.disputeId)],
    });
    const args = { dispute: d, clients, deployment, store };
    let result: Awaited<ReturnType<typeof readOutcome>>;
    try {
      result =
        onChain.status === 1 ? await resolveDispute({ ...args, sender: options.sender }) : await readOutcome(args);
    } catch (error) {
      // Windows counted from the challenge until the draw is seen; the chain has the final word.
      if (error instanceof BaseError && (error.code === "reveal_window_open" || error.code === "committee_not_drawn")) {
        return;
      }
      throw error;
    }
    if (!result) return;
    const { outcome, txHash } = result;
    options.metrics.resolved.inc({ role: d.role, verdict: outcome.guilty ? "guilty" : "not_guilty" });
    options.onEvent?.({ event: "dispute_resolved", disputeId: d.disputeId, role: d.role, ...outcome, txHash });
  }

  async function step(d: DisputeRecord, now: number): Promise<void> {
    if (d.role === "member" && d.duty === "drawn") {
      if (now > d.commitEnd) return store.setDuty(d.disputeId, "missed");
      const decision = await decide(d, now);
      if (!decision) return;
      const salt = `0x${randomBytes(32).toString("hex")}` as const;
      store.decide({ disputeId: d.disputeId, salt, ...decision });
      d = store.get(d.disputeId) as DisputeRecord;
    }
    if (d.role === "member" && d.duty === "decided") {
      await commit(d, now);
      d = store.get(d.disputeId) as DisputeRecord;
    }
    if (d.role === "member" && d.duty === "committed") {
      await reveal(d, now);
      d = store.get(d.disputeId) as DisputeRecord;
    }
    if (d.status === "open") await settle(d, now);
  }

  return {
    /** One pass over the open disputes. */
    async tick(): Promise<void> {
      const open = store.open();
      if (open.length === 0) return;
      const now = await options.clock.now();
      for (const d of open) {
        try {
          await step(d, now);
        } catch (error) {
          options.onError?.(error);
        }
      }
    },
  };
}

export type Committee = ReturnType<typeof createCommittee>;
