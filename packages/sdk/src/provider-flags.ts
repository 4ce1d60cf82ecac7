/**
 * Providers caught with a missing, mis-signed or over-charging receipt. A flagged agent is left out
 * of routing until `unflag` (a human decision: the evidence stays in the transcripts and here).
 */
import type { DatabaseSync } from "node:sqlite";

/**
 * Why a provider left routing: a bad receipt, a receipt timestamped far from the client's clock, an
 * overcharge, an answer that cannot be audited, or a receipt signing another seed key or audit
 * commitment than the client sent.
 */
export type FlagCode =
  | "receipt_invalid"
  | "receipt_timestamp_invalid"
  | "overcharged"
  | "transcript_invalid"
  | "seed_derivation_mismatch"
  | "audit_commit_mismatch"
  | "missing_seed";

export type ProviderFlag = {
  agentId: bigint;
  code: FlagCode;
  reason: string;
  details: Record<string, unknown>;
  createdAt: number;
};

type Row = { agent_id: string; code: string; reason: string; details: string; created_at: number };

const toFlag = (r: Row): ProviderFlag => ({
  agentId: BigInt(r.agent_id),
  code: r.code as FlagCode,
  reason: r.reason,
  details: JSON.parse(r.details) as Record<string, unknown>,
  createdAt: r.created_at,
});

export function createProviderFlags(db: DatabaseSync, onFlag?: (flag: ProviderFlag) => void) {
  return {
    /** Flags an agent (the first reason is kept) and notifies `onFlag`. */
    flag(agentId: bigint, code: FlagCode, reason: string, details: Record<string, unknown> = {}): ProviderFlag {
      const flag: ProviderFlag = { agentId, code, reason, details, createdAt: Date.now() };
      db.prepare(
        "INSERT OR IGNORE INTO flagged (agent_id, code, reason, details, created_at) VALUES (?, ?, ?, ?, ?)",
      ).run(
        agentId.toString(),
        code,
        reason,
        JSON.stringify(details, (_k, v) => (typeof v === "bigint" ? v.toString() : v)),
        flag.createdAt,
      );
      try {
        onFlag?.(flag);
      } catch {
        // a listener's failure must not hide the payment error the caller is about to get
      }
      return flag;
    },
    isFlagged(agentId: bigint): boolean {
      return db.prepare("SELECT 1 FROM flagged WHERE agent_id = ?").get(agentId.toString()) !== undefined;
    },
    list(): ProviderFlag[] {
      return (db.prepare("SELECT * FROM flagged ORDER BY created_at").all() as Row[]).map(toFlag);
    },
    unflag(agentId: bigint): boolean {
      return Number(db.prepare("DELETE FROM flagged WHERE agent_id = ?").run(agentId.toString()).changes) > 0;
    },
  };
}

export type ProviderFlags = ReturnType<typeof createProviderFlags>;
