/**
 * The canary ledger, in the validator's database beside the audits: one row per canary request,
 * written before it is sent (with the most it may cost) and completed with the verified charge and
 * the audit it became. The daily spending cap is read from here, so it holds across restarts.
 */
import type { DatabaseSync } from "node:sqlite";

export type CanaryStatus = "sending" | "sent" | "failed";

export type CanaryRecord = {
  seq: number;
  status: CanaryStatus;
  agentId: string;
  modelId: string;
  /** Most the request could cost (its voucher ceiling), in token base units. */
  ceiling: bigint;
  /** The verified receipt's charge (0 until sent). */
  charge: bigint;
  requestId: `0x${string}` | null;
  /** The audit it was queued as (the receipt's EIP-712 digest). */
  auditId: `0x${string}` | null;
  /** Reason code of a failed request, or of an intake that refused the sample. */
  code: string | null;
  startedAt: number;
  finishedAt: number | null;
};

type Row = Record<string, string | number | null>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS canaries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  status TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  model_id TEXT NOT NULL,
  ceiling TEXT NOT NULL,
  charge TEXT NOT NULL DEFAULT '0',
  request_id TEXT,
  audit_id TEXT,
  code TEXT,
  started_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS canaries_started ON canaries(started_at);
CREATE INDEX IF NOT EXISTS canaries_audit ON canaries(audit_id);
`;

const DAY_MS = 86_400_000;

function toRecord(row: Row): CanaryRecord {
  return {
    seq: row.seq as number,
    status: row.status as CanaryStatus,
    agentId: row.agent_id as string,
    modelId: row.model_id as string,
    ceiling: BigInt(row.ceiling as string),
    charge: BigInt(row.charge as string),
    requestId: (row.request_id as `0x${string}` | null) ?? null,
    auditId: (row.audit_id as `0x${string}` | null) ?? null,
    code: (row.code as string | null) ?? null,
    startedAt: row.started_at as number,
    finishedAt: (row.finished_at as number | null) ?? null,
  };
}

export function createCanaryStore(db: DatabaseSync) {
  db.exec(SCHEMA);

  /** A base-unit sum (read as bigint: amounts may exceed 2^53). */
  function sum(sql: string, ...params: number[]): bigint {
    const statement = db.prepare(sql);
    statement.setReadBigInts(true);
    return BigInt((statement.get(...params) as { v: bigint | number }).v);
  }

  function budgetUsed(now: number): bigint {
    return sum(
      `SELECT COALESCE(SUM(CAST(CASE WHEN status = 'sent' THEN charge ELSE ceiling END AS INTEGER)), 0) AS v
       FROM canaries WHERE started_at > ?`,
      now - DAY_MS,
    );
  }

  function get(seq: number): CanaryRecord | undefined {
    const row = db.prepare("SELECT * FROM canaries WHERE seq = ?").get(seq) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  return {
    get,
    /** Records a canary about to be sent; its ceiling counts against the budget from now on. */
    begin(args: { agentId: bigint; modelId: bigint; ceiling: bigint; at: number }): number {
      const result = db
        .prepare(
          "INSERT INTO canaries (status, agent_id, model_id, ceiling, started_at) VALUES ('sending', ?, ?, ?, ?)",
        )
        .run(args.agentId.toString(), args.modelId.toString(), args.ceiling.toString(), args.at);
      return Number(result.lastInsertRowid);
    },
    /** A paid answer with a verified receipt; `auditId` is null when the intake refused the sample (`code`). */
    sent(args: {
      seq: number;
      requestId: `0x${string}`;
      charge: bigint;
      auditId: `0x${string}` | null;
      code: string | null;
      at: number;
    }): void {
      db.prepare(
        "UPDATE canaries SET status = 'sent', request_id = ?, charge = ?, audit_id = ?, code = ?, finished_at = ? WHERE seq = ?",
      ).run(
        args.requestId.toLowerCase(),
        args.charge.toString(),
        args.auditId?.toLowerCase() ?? null,
        args.code,
        args.at,
        args.seq,
      );
    },
    /**
     * A request that failed (the provider refused or never answered, or its receipt did not verify).
     * `atRisk` false: it failed before a voucher left (routing, channel opening), so nothing counts.
     */
    failed(args: { seq: number; code: string; atRisk: boolean; at: number }): void {
      db.prepare(
        "UPDATE canaries SET status = 'failed', code = ?, ceiling = CASE WHEN ? THEN ceiling ELSE '0' END, finished_at = ? WHERE seq = ?",
      ).run(args.code, args.atRisk ? 1 : 0, args.at, args.seq);
    },
    /** Canaries a previous process left in flight: their outcome is unknown, their ceiling stays counted. */
    interrupted(at: number): number {
      const result = db
        .prepare(
          "UPDATE canaries SET status = 'failed', code = 'upstream_unreachable', finished_at = ? WHERE status = 'sending'",
        )
        .run(at);
      return Number(result.changes);
    },
    /** Whether an audit came from a canary. */
    isCanary(auditId: string): boolean {
      return db.prepare("SELECT 1 FROM canaries WHERE audit_id = ?").get(auditId.toLowerCase()) !== undefined;
    },
    /**
     * What counts against the daily cap since `now - 24 h`: verified charges, plus the ceiling of every
     * canary still in flight or failed (a provider may have kept its voucher).
     */
    budgetUsed,
    list(limit = 100): CanaryRecord[] {
      const rows = db
        .prepare("SELECT * FROM canaries ORDER BY seq DESC LIMIT ?")
        .all(Math.min(Math.max(limit, 1), 1000));
      return (rows as Row[]).map(toRecord);
    },
    /** Counts and spend (all time and the last 24 h), with the outcome of the audits canaries became. */
    totals(now: number): {
      sent: number;
      failed: number;
      audits: { queued: number; passed: number; failed: number; error: number };
      spend: bigint;
      spendLastDay: bigint;
      budgetUsedLastDay: bigint;
    } {
      const counts = { sent: 0, failed: 0, sending: 0 };
      for (const row of db.prepare("SELECT status, COUNT(*) AS n FROM canaries GROUP BY status").all() as Row[]) {
        counts[row.status as CanaryStatus] = row.n as number;
      }
      const audits = { queued: 0, passed: 0, failed: 0, error: 0 };
      const joined = db
        .prepare(
          "SELECT a.status AS s, COUNT(*) AS n FROM canaries c JOIN audits a ON a.id = c.audit_id GROUP BY a.status",
        )
        .all() as Row[];
      for (const row of joined) audits[row.s as keyof typeof audits] = row.n as number;
      return {
        sent: counts.sent,
        failed: counts.failed,
        audits,
        spend: sum("SELECT COALESCE(SUM(CAST(charge AS INTEGER)), 0) AS v FROM canaries"),
        spendLastDay: sum(
          "SELECT COALESCE(SUM(CAST(charge AS INTEGER)), 0) AS v FROM canaries WHERE started_at > ?",
          now - DAY_MS,
        ),
        budgetUsedLastDay: budgetUsed(now),
      };
    },
  };
}

export type CanaryStore = ReturnType<typeof createCanaryStore>;
