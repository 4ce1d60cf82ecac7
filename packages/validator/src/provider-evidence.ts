/**
 * Per-provider evidence a validator keeps (SQLite, same database as the audits): the ordered log of
 * its audit outcomes for the pooled test (`sprt.ts`), hash-chained so a published head commits the
 * validator to its whole log (a later head must extend an earlier one: audits cannot be dropped or
 * reordered after the fact), the tool-call quality tallies, and the pooled challenges sent.
 */
import type { DatabaseSync } from "node:sqlite";
import { inTransaction } from "@verity/chain";
import { encodePacked, keccak256 } from "viem";
import type { AuditRecord } from "./audit-store.ts";
import { type AuditSamplePayload, transcriptOf } from "./intake.ts";
import {
  type PooledAudit,
  type PooledSegment,
  type PooledState,
  pooledState,
  type SeededSummary,
  type SprtParams,
  seededOf,
} from "./sprt.ts";
import { scoreToolCalls, type ToolCallScore } from "./tool-calls.ts";

export const ZERO_HEAD = `0x${"00".repeat(32)}` as const;

export type LoggedAudit = PooledAudit & { seeded: boolean; head: `0x${string}` };

/** `keccak256(prev ‖ auditId ‖ tokens:uint32 ‖ flips:uint32 ‖ failed ‖ seeded)`: one link of the log's chain. */
export function chainLink(prev: `0x${string}`, a: Omit<LoggedAudit, "head">): `0x${string}` {
  return keccak256(
    encodePacked(
      ["bytes32", "bytes32", "uint32", "uint32", "bool", "bool"],
      [prev, a.id, a.tokens, a.flips, a.failed, a.seeded],
    ),
  );
}

export type PooledChallengeStatus = "pending" | "opened" | "rejected";

type Row = Record<string, string | number | null>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS pooled_audits (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  agent_id TEXT NOT NULL,
  audit_id TEXT NOT NULL UNIQUE,
  tokens INTEGER NOT NULL,
  flips INTEGER NOT NULL,
  failed INTEGER NOT NULL,
  seeded INTEGER NOT NULL,
  head TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS pooled_audits_agent ON pooled_audits(agent_id, seq);
CREATE TABLE IF NOT EXISTS tool_call_scores (
  audit_id TEXT PRIMARY KEY,
  agent_id TEXT NOT NULL,
  calls INTEGER NOT NULL,
  valid INTEGER NOT NULL,
  unscored INTEGER NOT NULL,
  reasons TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tool_call_scores_agent ON tool_call_scores(agent_id);
CREATE TABLE IF NOT EXISTS pooled_challenges (
  agent_id TEXT NOT NULL,
  first_audit TEXT NOT NULL,
  ids TEXT NOT NULL,
  strongest TEXT NOT NULL,
  status TEXT NOT NULL,
  code TEXT,
  evidence_hash TEXT,
  dispute_id TEXT,
  PRIMARY KEY (agent_id, first_audit)
);
`;

function toLogged(row: Row): LoggedAudit {
  return {
    id: row.audit_id as `0x${string}`,
    tokens: row.tokens as number,
    flips: row.flips as number,
    failed: row.failed === 1,
    seeded: row.seeded === 1,
    head: row.head as `0x${string}`,
  };
}

/** The audits a test in `mode` pools: flips mode needs the seeded summary; audits mode takes all. */
export function poolable(log: readonly LoggedAudit[], params: SprtParams): LoggedAudit[] {
  return params.mode === "flips" ? log.filter((a) => a.seeded) : [...log];
}

export function createProviderEvidence(db: DatabaseSync) {
  db.exec(SCHEMA);
  const logOf = (agentId: string): LoggedAudit[] =>
    (db.prepare("SELECT * FROM pooled_audits WHERE agent_id = ? ORDER BY seq").all(agentId) as Row[]).map(toLogged);

  return {
    /**
     * Appends one audit's outcome (once per audit id) and its tool-call tally. Callers leave out
     * audits that prove nothing (a transcript that does not match its receipt, an audit error).
     */
    record(args: {
      agentId: string;
      id: `0x${string}`;
      pass: boolean;
      seeded?: SeededSummary | undefined;
      toolCalls?: ToolCallScore | null;
      at: number;
    }): void {
      const id = args.id.toLowerCase() as `0x${string}`;
      inTransaction(db, () => {
        if (db.prepare("SELECT 1 FROM pooled_audits WHERE audit_id = ?").get(id)) return;
        const last = db
          .prepare("SELECT head FROM pooled_audits WHERE agent_id = ? ORDER BY seq DESC LIMIT 1")
          .get(args.agentId) as Row | undefined;
        const s = args.seeded;
        const entry = {
          id,
          tokens: s ? Math.max(0, Math.trunc(s.tokens)) : 0,
          flips: s ? Math.max(0, Math.trunc(s.flips)) : 0,
          failed: !args.pass,
          seeded: s !== undefined,
        };
        const head = chainLink((last?.head as `0x${string}` | undefined) ?? ZERO_HEAD, entry);
        db.prepare(
          `INSERT INTO pooled_audits (agent_id, audit_id, tokens, flips, failed, seeded, head, at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(args.agentId, id, entry.tokens, entry.flips, entry.failed ? 1 : 0, entry.seeded ? 1 : 0, head, args.at);
        const t = args.toolCalls;
        if (t) {
          const reasons: Record<string, number> = {};
          for (const c of t.checks) if (c.reason) reasons[c.reason] = (reasons[c.reason] ?? 0) + 1;
          db.prepare(
            `INSERT OR IGNORE INTO tool_call_scores (audit_id, agent_id, calls, valid, unscored, reasons, at)
             VALUES (?, ?, ?, ?, ?, ?, ?)`,
          ).run(id, args.agentId, t.calls, t.valid, t.unscored, JSON.stringify(reasons), args.at);
        }
      });
    },
    log: logOf,
    /** The pooled test over the provider's log, with the log's length and chain head. */
    state(agentId: string, params: SprtParams): PooledState & { logged: number; head: `0x${string}` } {
      const log = logOf(agentId);
      return {
        ...pooledState({ params, audits: poolable(log, params) }),
        logged: log.length,
        head: log.at(-1)?.head ?? ZERO_HEAD,
      };
    },
    /** Tool-call quality: valid / total calls, and the same with a uniform prior (valid + 1)/(total + 2). */
    toolCalls(agentId: string) {
      const rows = db.prepare("SELECT * FROM tool_call_scores WHERE agent_id = ?").all(agentId) as Row[];
      let calls = 0;
      let valid = 0;
      let unscored = 0;
      const reasons: Record<string, number> = {};
      for (const r of rows) {
        calls += r.calls as number;
        valid += r.valid as number;
        unscored += r.unscored as number;
        for (const [k, v] of Object.entries(JSON.parse(r.reasons as string) as Record<string, number>)) {
          reasons[k] = (reasons[k] ?? 0) + v;
        }
      }
      return {
        audits: rows.length,
        calls,
        valid,
        unscored,
        score: calls === 0 ? null : valid / calls,
        smoothed: (valid + 1) / (calls + 2),
        reasons,
      };
    },
    /** Providers logged, audits logged, tool calls scored, pooled challenges by status. */
    totals() {
      const one = (sql: string) => (db.prepare(sql).get() as Row).n as number;
      const challenges: Record<PooledChallengeStatus, number> = { pending: 0, opened: 0, rejected: 0 };
      for (const r of db
        .prepare("SELECT status, COUNT(*) AS n FROM pooled_challenges GROUP BY status")
        .all() as Row[]) {
        challenges[r.status as PooledChallengeStatus] = r.n as number;
      }
      return {
        providers: one("SELECT COUNT(DISTINCT agent_id) AS n FROM pooled_audits"),
        audits: one("SELECT COUNT(*) AS n FROM pooled_audits"),
        toolCalls: one("SELECT COALESCE(SUM(calls), 0) AS n FROM tool_call_scores"),
        validToolCalls: one("SELECT COALESCE(SUM(valid), 0) AS n FROM tool_call_scores"),
        challenges,
      };
    },
    agents(): string[] {
      return (db.prepare("SELECT DISTINCT agent_id FROM pooled_audits ORDER BY agent_id").all() as Row[]).map(
        (r) => r.agent_id as string,
      );
    },
    /** Substitute segments of `agentId` not challenged yet, or whose challenge is still to be sent (oldest first). */
    unchallenged(agentId: string, params: SprtParams): PooledSegment[] {
      const seen = new Set(
        (
          db
            .prepare("SELECT first_audit FROM pooled_challenges WHERE agent_id = ? AND status != 'pending'")
            .all(agentId) as Row[]
        ).map((r) => r.first_audit as string),
      );
      return pooledState({ params, audits: poolable(logOf(agentId), params) }).substitute.filter(
        (s) => !seen.has(s.ids[0] as string),
      );
    },
    challenge(args: {
      agentId: string;
      segment: PooledSegment;
      strongest: `0x${string}`;
      status: PooledChallengeStatus;
      code?: string;
      evidenceHash?: `0x${string}`;
      disputeId?: bigint;
    }): void {
      db.prepare(
        `INSERT INTO pooled_challenges (agent_id, first_audit, ids, strongest, status, code, evidence_hash, dispute_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (agent_id, first_audit) DO UPDATE SET status = excluded.status, code = excluded.code,
           evidence_hash = COALESCE(excluded.evidence_hash, evidence_hash), dispute_id = COALESCE(excluded.dispute_id, dispute_id)`,
      ).run(
        args.agentId,
        args.segment.ids[0] as string,
        JSON.stringify(args.segment.ids),
        args.strongest,
        args.status,
        args.code ?? null,
        args.evidenceHash ?? null,
        args.disputeId === undefined ? null : args.disputeId.toString(),
      );
    },
    challenges(agentId: string) {
      return (db.prepare("SELECT * FROM pooled_challenges WHERE agent_id = ?").all(agentId) as Row[]).map((r) => ({
        firstAudit: r.first_audit as string,
        ids: JSON.parse(r.ids as string) as string[],
        strongest: r.strongest as string,
        status: r.status as PooledChallengeStatus,
        code: (r.code as string | null) ?? null,
        evidenceHash: (r.evidence_hash as string | null) ?? null,
        disputeId: (r.dispute_id as string | null) ?? null,
      }));
    },
  };
}

export type ProviderEvidence = ReturnType<typeof createProviderEvidence>;

/**
 * Logs one finished audit for its provider: its pooled-test outcome and its tool-call score. An
 * audit that errored, or whose transcript does not match its receipt, proves nothing and is left out.
 */
export function logAudit(args: {
  store: ProviderEvidence;
  record: AuditRecord;
  sample: AuditSamplePayload | undefined;
  at: number;
}): boolean {
  const { record, sample } = args;
  if (!sample || !record.verdict || (record.status !== "passed" && record.status !== "failed")) return false;
  if (record.verdict.reasons.includes("receipt_mismatch")) return false;
  const truncated = sample.outputTokenIds.length >= transcriptOf(sample).transcript.sampling.maxTokens;
  args.store.record({
    agentId: record.agentId,
    id: record.id,
    pass: record.verdict.pass,
    seeded: seededOf(record.verdict.stats),
    toolCalls: scoreToolCalls({ request: sample.request, output: sample.output, truncated }),
    at: args.at,
  });
  return true;
}
