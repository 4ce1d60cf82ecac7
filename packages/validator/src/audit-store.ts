/**
 * The validator's durable audit queue and evidence (SQLite, WAL, synchronous=FULL): a sample is
 * committed here before the intake answers 202, verdicts and challenge outcomes are recorded on the
 * same row, and evidence bytes are kept by their hash for committee members to fetch.
 */
import type { DatabaseSync } from "node:sqlite";
import { inTransaction } from "@verity/chain";
import type { EvidenceVerdict } from "./evidence.ts";
import type { AuditSamplePayload } from "./intake.ts";

export type AuditStatus = "queued" | "passed" | "failed" | "error";
export type ChallengeStatus = "pending" | "opened" | "rejected";

export type AuditRecord = {
  /** The receipt's EIP-712 digest (one audit per receipt). */
  id: `0x${string}`;
  status: AuditStatus;
  agentId: string;
  modelId: string;
  requestId: `0x${string}`;
  channelId: `0x${string}`;
  receivedAt: number;
  auditedAt: number | null;
  verdict: EvidenceVerdict | null;
  /** Reason code when the audit could not run. */
  error: string | null;
  compute: { tokens: number; seconds: number };
  challenge: {
    status: ChallengeStatus;
    attempts: number;
    disputeId: string | null;
    txHash: `0x${string}` | null;
    evidenceHash: `0x${string}` | null;
    /** Reason code when the chain refused the challenge. */
    code: string | null;
  } | null;
};

type Row = Record<string, string | number | null>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS audits (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  model_id TEXT NOT NULL,
  request_id TEXT NOT NULL,
  channel_id TEXT NOT NULL,
  sample TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  audited_at INTEGER,
  verdict TEXT,
  error TEXT,
  tokens INTEGER NOT NULL DEFAULT 0,
  seconds REAL NOT NULL DEFAULT 0,
  challenge_status TEXT,
  challenge_attempts INTEGER NOT NULL DEFAULT 0,
  challenge_code TEXT,
  challenge_tx TEXT,
  dispute_id TEXT,
  evidence_hash TEXT
);
CREATE INDEX IF NOT EXISTS audits_status ON audits(status, seq);
CREATE INDEX IF NOT EXISTS audits_challenge ON audits(challenge_status, seq);
CREATE TABLE IF NOT EXISTS evidence (
  hash TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
`;

function toRecord(row: Row): AuditRecord {
  const challengeStatus = row.challenge_status as ChallengeStatus | null;
  return {
    id: row.id as `0x${string}`,
    status: row.status as AuditStatus,
    agentId: row.agent_id as string,
    modelId: row.model_id as string,
    requestId: row.request_id as `0x${string}`,
    channelId: row.channel_id as `0x${string}`,
    receivedAt: row.received_at as number,
    auditedAt: (row.audited_at as number | null) ?? null,
    verdict: row.verdict === null ? null : (JSON.parse(row.verdict as string) as EvidenceVerdict),
    error: (row.error as string | null) ?? null,
    compute: { tokens: row.tokens as number, seconds: row.seconds as number },
    challenge:
      challengeStatus === null
        ? null
        : {
            status: challengeStatus,
            attempts: row.challenge_attempts as number,
            disputeId: (row.dispute_id as string | null) ?? null,
            txHash: (row.challenge_tx as `0x${string}` | null) ?? null,
            evidenceHash: (row.evidence_hash as `0x${string}` | null) ?? null,
            code: (row.challenge_code as string | null) ?? null,
          },
  };
}

export function createAuditStore(db: DatabaseSync) {
  db.exec(SCHEMA);
  const byId = db.prepare("SELECT * FROM audits WHERE id = ?");

  function get(id: string): AuditRecord | undefined {
    const row = byId.get(id.toLowerCase()) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  return {
    get,
    /** Queues a sample; returns the existing record instead when this receipt is known already. */
    enqueue(args: { id: `0x${string}`; sample: AuditSamplePayload; receivedAt: number }): {
      record: AuditRecord;
      created: boolean;
    } {
      const id = args.id.toLowerCase();
      const existing = get(id);
      if (existing) return { record: existing, created: false };
      const s = args.sample;
      db.prepare(
        `INSERT INTO audits (id, status, agent_id, model_id, request_id, channel_id, sample, received_at)
         VALUES (?, 'queued', ?, ?, ?, ?, ?, ?)`,
      ).run(
        id,
        s.agentId,
        s.modelId,
        s.receipt.receipt.requestId.toLowerCase(),
        s.channelId.toLowerCase(),
        JSON.stringify(s),
        args.receivedAt,
      );
      return { record: get(id) as AuditRecord, created: true };
    },
    /** The oldest queued sample (what the worker audits next). */
    nextQueued(): { record: AuditRecord; sample: AuditSamplePayload } | undefined {
      const row = db.prepare("SELECT * FROM audits WHERE status = 'queued' ORDER BY seq LIMIT 1").get() as
        | Row
        | undefined;
      return row
        ? { record: toRecord(row), sample: JSON.parse(row.sample as string) as AuditSamplePayload }
        : undefined;
    },
    sampleOf(id: string): AuditSamplePayload | undefined {
      const row = db.prepare("SELECT sample FROM audits WHERE id = ?").get(id.toLowerCase()) as Row | undefined;
      return row ? (JSON.parse(row.sample as string) as AuditSamplePayload) : undefined;
    },
    /** Records a verdict; a failed one that can be challenged becomes a pending challenge in the same write. */
    recordVerdict(args: {
      id: string;
      verdict: EvidenceVerdict;
      tokens: number;
      seconds: number;
      challenge: boolean;
      at: number;
    }): void {
      db.prepare(
        `UPDATE audits SET status = ?, verdict = ?, tokens = ?, seconds = ?, audited_at = ?, challenge_status = ?
         WHERE id = ? AND status = 'queued'`,
      ).run(
        args.verdict.pass ? "passed" : "failed",
        JSON.stringify(args.verdict),
        args.tokens,
        args.seconds,
        args.at,
        args.challenge ? "pending" : null,
        args.id.toLowerCase(),
      );
    },
    recordError(args: { id: string; code: string; at: number }): void {
      db.prepare(
        "UPDATE audits SET status = 'error', error = ?, audited_at = ? WHERE id = ? AND status = 'queued'",
      ).run(args.code, args.at, args.id.toLowerCase());
    },
    /** Failed audits whose challenge is still to be sent, oldest first. */
    pendingChallenges(): AuditRecord[] {
      return (db.prepare("SELECT * FROM audits WHERE challenge_status = 'pending' ORDER BY seq").all() as Row[]).map(
        toRecord,
      );
    },
    /** Stores the evidence bytes and links them to the audit (before the challenge is sent). */
    saveEvidence(args: { id: string; hash: `0x${string}`; body: string; at: number }): void {
      inTransaction(db, () => {
        db.prepare("INSERT OR IGNORE INTO evidence (hash, body, created_at) VALUES (?, ?, ?)").run(
          args.hash.toLowerCase(),
          args.body,
          args.at,
        );
        db.prepare("UPDATE audits SET evidence_hash = ? WHERE id = ?").run(
          args.hash.toLowerCase(),
          args.id.toLowerCase(),
        );
      });
    },
    evidence(hash: string): string | undefined {
      const row = db.prepare("SELECT body FROM evidence WHERE hash = ?").get(hash.toLowerCase()) as Row | undefined;
      return row ? (row.body as string) : undefined;
    },
    challengeAttempted(id: string): number {
      db.prepare("UPDATE audits SET challenge_attempts = challenge_attempts + 1 WHERE id = ?").run(id.toLowerCase());
      return get(id)?.challenge?.attempts ?? 0;
    },
    challengeOpened(args: { id: string; disputeId: bigint; txHash: `0x${string}` | null }): void {
      db.prepare(
        "UPDATE audits SET challenge_status = 'opened', dispute_id = ?, challenge_tx = ?, challenge_code = NULL WHERE id = ?",
      ).run(args.disputeId.toString(), args.txHash, args.id.toLowerCase());
    },
    challengeRejected(args: { id: string; code: string }): void {
      db.prepare("UPDATE audits SET challenge_status = 'rejected', challenge_code = ? WHERE id = ?").run(
        args.code,
        args.id.toLowerCase(),
      );
    },
    list(args: { limit?: number; status?: AuditStatus } = {}): AuditRecord[] {
      const limit = Math.min(Math.max(args.limit ?? 100, 1), 1000);
      const rows = args.status
        ? db.prepare("SELECT * FROM audits WHERE status = ? ORDER BY seq DESC LIMIT ?").all(args.status, limit)
        : db.prepare("SELECT * FROM audits ORDER BY seq DESC LIMIT ?").all(limit);
      return (rows as Row[]).map(toRecord);
    },
    /** Counts by status and challenge outcome, and the compute spent on intake audits. */
    totals(): {
      byStatus: Record<AuditStatus, number>;
      challenges: Record<ChallengeStatus, number>;
      tokens: number;
      seconds: number;
    } {
      const byStatus: Record<AuditStatus, number> = { queued: 0, passed: 0, failed: 0, error: 0 };
      for (const row of db.prepare("SELECT status, COUNT(*) AS n FROM audits GROUP BY status").all() as Row[]) {
        byStatus[row.status as AuditStatus] = row.n as number;
      }
      const challenges: Record<ChallengeStatus, number> = { pending: 0, opened: 0, rejected: 0 };
      for (const row of db
        .prepare(
          "SELECT challenge_status AS s, COUNT(*) AS n FROM audits WHERE challenge_status IS NOT NULL GROUP BY s",
        )
        .all() as Row[]) {
        challenges[row.s as ChallengeStatus] = row.n as number;
      }
      const sums = db
        .prepare("SELECT COALESCE(SUM(tokens), 0) AS t, COALESCE(SUM(seconds), 0) AS s FROM audits")
        .get() as Row;
      return { byStatus, challenges, tokens: sums.t as number, seconds: sums.s as number };
    },
  };
}

export type AuditStore = ReturnType<typeof createAuditStore>;
