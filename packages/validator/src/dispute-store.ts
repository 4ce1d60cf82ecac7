/**
 * The validator's disputes (SQLite): the ones it opened as challenger and the ones it sits on as a
 * committee member, with its vote and salt (written before the commit is sent, so a restart can
 * still reveal), transaction hashes and the outcome; plus the chain cursor of the dispute watcher.
 */
import type { DatabaseSync } from "node:sqlite";

export type DisputeRole = "challenger" | "member";
export type DisputeStatus = "open" | "guilty" | "not_guilty";
/** A committee member's progress: drawn → decided (vote + salt stored) → committed → revealed, or missed. */
export type DutyState = "drawn" | "decided" | "committed" | "revealed" | "missed";

export type DisputeRecord = {
  disputeId: string;
  role: DisputeRole;
  agentId: string;
  receiptHash: `0x${string}`;
  evidenceHash: `0x${string}`;
  evidenceUri: string;
  /**
   * Chain time (seconds) the dispute opened, and its window ends: from the committee draw once it
   * happened; until then counted from the challenge (a lower bound, corrected at the draw).
   */
  openedAt: number;
  commitEnd: number;
  revealEnd: number;
  auditId: string | null;
  status: DisputeStatus;
  duty: DutyState | null;
  guilty: boolean | null;
  salt: `0x${string}` | null;
  /** Why the member voted as it did (the re-audit's reasons or why the evidence was unusable). */
  reason: string | null;
  evidenceAttempts: number;
  commitTx: `0x${string}` | null;
  revealTx: `0x${string}` | null;
  resolveTx: `0x${string}` | null;
  outcome: Record<string, string | boolean> | null;
  compute: { tokens: number; seconds: number };
};

type Row = Record<string, string | number | null>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS disputes (
  dispute_id TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  receipt_hash TEXT NOT NULL,
  evidence_hash TEXT NOT NULL,
  evidence_uri TEXT NOT NULL,
  opened_at INTEGER NOT NULL,
  commit_end INTEGER NOT NULL,
  reveal_end INTEGER NOT NULL,
  audit_id TEXT,
  status TEXT NOT NULL DEFAULT 'open',
  duty TEXT,
  guilty INTEGER,
  salt TEXT,
  reason TEXT,
  evidence_attempts INTEGER NOT NULL DEFAULT 0,
  commit_tx TEXT,
  reveal_tx TEXT,
  resolve_tx TEXT,
  outcome TEXT,
  tokens INTEGER NOT NULL DEFAULT 0,
  seconds REAL NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

function toRecord(row: Row): DisputeRecord {
  return {
    disputeId: row.dispute_id as string,
    role: row.role as DisputeRole,
    agentId: row.agent_id as string,
    receiptHash: row.receipt_hash as `0x${string}`,
    evidenceHash: row.evidence_hash as `0x${string}`,
    evidenceUri: row.evidence_uri as string,
    openedAt: row.opened_at as number,
    commitEnd: row.commit_end as number,
    revealEnd: row.reveal_end as number,
    auditId: (row.audit_id as string | null) ?? null,
    status: row.status as DisputeStatus,
    duty: (row.duty as DutyState | null) ?? null,
    guilty: row.guilty === null ? null : row.guilty === 1,
    salt: (row.salt as `0x${string}` | null) ?? null,
    reason: (row.reason as string | null) ?? null,
    evidenceAttempts: row.evidence_attempts as number,
    commitTx: (row.commit_tx as `0x${string}` | null) ?? null,
    revealTx: (row.reveal_tx as `0x${string}` | null) ?? null,
    resolveTx: (row.resolve_tx as `0x${string}` | null) ?? null,
    outcome: row.outcome === null ? null : (JSON.parse(row.outcome as string) as Record<string, string | boolean>),
    compute: { tokens: row.tokens as number, seconds: row.seconds as number },
  };
}

export type NewDispute = Pick<
  DisputeRecord,
  | "disputeId"
  | "role"
  | "agentId"
  | "receiptHash"
  | "evidenceHash"
  | "evidenceUri"
  | "openedAt"
  | "commitEnd"
  | "revealEnd"
> & { auditId?: string };

export function createDisputeStore(db: DatabaseSync) {
  db.exec(SCHEMA);

  function get(disputeId: string | bigint): DisputeRecord | undefined {
    const row = db.prepare("SELECT * FROM disputes WHERE dispute_id = ?").get(disputeId.toString()) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  return {
    get,
    /** Records a dispute once (a second call for the same id changes nothing). */
    add(d: NewDispute, at: number): DisputeRecord {
      db.prepare(
        `INSERT OR IGNORE INTO disputes (dispute_id, role, agent_id, receipt_hash, evidence_hash, evidence_uri,
           opened_at, commit_end, reveal_end, audit_id, duty, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        d.disputeId,
        d.role,
        d.agentId,
        d.receiptHash.toLowerCase(),
        d.evidenceHash.toLowerCase(),
        d.evidenceUri,
        d.openedAt,
        d.commitEnd,
        d.revealEnd,
        d.auditId ?? null,
        d.role === "member" ? "drawn" : null,
        at,
      );
      return get(d.disputeId) as DisputeRecord;
    },
    /** Open disputes (anything still to do: vote, reveal, resolve), oldest first. */
    open(): DisputeRecord[] {
      return (
        db.prepare("SELECT * FROM disputes WHERE status = 'open' ORDER BY CAST(dispute_id AS INTEGER)").all() as Row[]
      ).map(toRecord);
    },
    list(limit = 100): DisputeRecord[] {
      return (
        db
          .prepare("SELECT * FROM disputes ORDER BY CAST(dispute_id AS INTEGER) DESC LIMIT ?")
          .all(Math.min(Math.max(limit, 1), 1000)) as Row[]
      ).map(toRecord);
    },
    /** Stores the vote and its salt (before the commitment is sent) and the re-audit's compute. */
    decide(args: {
      disputeId: string;
      guilty: boolean;
      salt: `0x${string}`;
      reason: string;
      tokens: number;
      seconds: number;
    }): void {
      db.prepare(
        `UPDATE disputes SET duty = 'decided', guilty = ?, salt = ?, reason = ?, tokens = ?, seconds = ?
         WHERE dispute_id = ? AND duty = 'drawn'`,
      ).run(args.guilty ? 1 : 0, args.salt, args.reason, args.tokens, args.seconds, args.disputeId);
    },
    /** Sets the vote windows once the committee is drawn (they run from the draw, not the challenge). */
    setWindows(disputeId: string, windows: { commitEnd: number; revealEnd: number }): void {
      db.prepare("UPDATE disputes SET commit_end = ?, reveal_end = ? WHERE dispute_id = ?").run(
        windows.commitEnd,
        windows.revealEnd,
        disputeId,
      );
    },
    evidenceAttempted(disputeId: string): number {
      db.prepare("UPDATE disputes SET evidence_attempts = evidence_attempts + 1 WHERE dispute_id = ?").run(disputeId);
      return get(disputeId)?.evidenceAttempts ?? 0;
    },
    setDuty(disputeId: string, duty: DutyState, tx?: { commitTx?: `0x${string}`; revealTx?: `0x${string}` }): void {
      db.prepare(
        "UPDATE disputes SET duty = ?, commit_tx = COALESCE(?, commit_tx), reveal_tx = COALESCE(?, reveal_tx) WHERE dispute_id = ?",
      ).run(duty, tx?.commitTx ?? null, tx?.revealTx ?? null, disputeId);
    },
    resolved(args: {
      disputeId: string;
      guilty: boolean;
      outcome: Record<string, string | boolean>;
      resolveTx?: `0x${string}` | null;
    }): void {
      db.prepare(
        "UPDATE disputes SET status = ?, outcome = ?, resolve_tx = COALESCE(?, resolve_tx) WHERE dispute_id = ?",
      ).run(
        args.guilty ? "guilty" : "not_guilty",
        JSON.stringify(args.outcome),
        args.resolveTx ?? null,
        args.disputeId,
      );
    },
    meta(key: string): string | undefined {
      const row = db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as Row | undefined;
      return row ? (row.value as string) : undefined;
    },
    setMeta(key: string, value: string): void {
      db.prepare(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      ).run(key, value);
    },
    /** Votes by state and the compute spent re-auditing committee evidence. */
    totals(): {
      byDuty: Record<DutyState, number>;
      byStatus: Record<DisputeStatus, number>;
      tokens: number;
      seconds: number;
    } {
      const byDuty: Record<DutyState, number> = { drawn: 0, decided: 0, committed: 0, revealed: 0, missed: 0 };
      for (const row of db
        .prepare("SELECT duty, COUNT(*) AS n FROM disputes WHERE duty IS NOT NULL GROUP BY duty")
        .all() as Row[]) {
        byDuty[row.duty as DutyState] = row.n as number;
      }
      const byStatus: Record<DisputeStatus, number> = { open: 0, guilty: 0, not_guilty: 0 };
      for (const row of db.prepare("SELECT status, COUNT(*) AS n FROM disputes GROUP BY status").all() as Row[]) {
        byStatus[row.status as DisputeStatus] = row.n as number;
      }
      const sums = db
        .prepare("SELECT COALESCE(SUM(tokens), 0) AS t, COALESCE(SUM(seconds), 0) AS s FROM disputes")
        .get() as Row;
      return { byDuty, byStatus, tokens: sums.t as number, seconds: sums.s as number };
    },
  };
}

export type DisputeStore = ReturnType<typeof createDisputeStore>;
