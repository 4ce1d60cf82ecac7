/**
 * Every verified receipt with its transcript (request, output text, and — when the provider's
 * transcript matched the receipt — token ids and resolved sampling parameters), kept for
 * the audit window so a sampled or disputed answer can be re-scored, plus the audit queue: sampled
 * requests waiting for (or already sent to) a validator. `cleanup` drops both after the window.
 */
import type { DatabaseSync } from "node:sqlite";
import { inTransaction } from "@verity/chain";
import type { SignedReceiptJson } from "@verity/core";
import type { TranscriptSampling } from "./transcript-check.ts";

export type Transcript = {
  requestId: `0x${string}`;
  agentId: bigint;
  channelId: `0x${string}`;
  modelId: bigint;
  model: string;
  kind: "chat" | "text";
  /** The request body as sent (messages or prompt, sampling parameters). */
  request: Record<string, unknown>;
  output: string;
  /** Null when the provider sent no transcript matching the receipt (such an answer cannot be audited). */
  promptTokenIds: number[] | null;
  outputTokenIds: number[] | null;
  /** The resolved sampling parameters the receipt's `paramsHash` commits to (seed included), when known. */
  sampling: TranscriptSampling | null;
  receipt: SignedReceiptJson;
  /** Cumulative amount of the voucher that paid the request (the seed key's input); null when unknown. */
  voucherAmount?: bigint | null;
  createdAt: number;
};

/** Whether a transcript carries what a validator needs to re-score it. */
export function isAuditable(t: Transcript): boolean {
  return t.promptTokenIds !== null && t.promptTokenIds.length > 0 && t.outputTokenIds !== null;
}

/** "rejected": the validator refused the sample for good (a 4xx answer); it is not sent again. */
export type AuditStatus = "pending" | "sent" | "rejected";
export type AuditEntry = { transcript: Transcript; status: AuditStatus; attempts: number; lastError: string | null };

type Row = {
  request_id: string;
  agent_id: string;
  channel_id: string;
  model_id: string;
  model: string;
  kind: string;
  request: string;
  output: string;
  prompt_token_ids: string | null;
  output_token_ids: string | null;
  sampling: string | null;
  receipt: string;
  signature: string;
  signer: string;
  created_at: number;
  voucher_amount: string | null;
};

function toTranscript(row: Row): Transcript {
  return {
    requestId: row.request_id as `0x${string}`,
    agentId: BigInt(row.agent_id),
    channelId: row.channel_id as `0x${string}`,
    modelId: BigInt(row.model_id),
    model: row.model,
    kind: row.kind as Transcript["kind"],
    request: JSON.parse(row.request) as Record<string, unknown>,
    output: row.output,
    promptTokenIds: row.prompt_token_ids === null ? null : (JSON.parse(row.prompt_token_ids) as number[]),
    outputTokenIds: row.output_token_ids === null ? null : (JSON.parse(row.output_token_ids) as number[]),
    sampling: row.sampling == null ? null : (JSON.parse(row.sampling) as TranscriptSampling),
    receipt: { receipt: JSON.parse(row.receipt), signature: row.signature, signer: row.signer },
    ...(row.voucher_amount == null ? {} : { voucherAmount: BigInt(row.voucher_amount) }),
    createdAt: row.created_at,
  };
}

export function createTranscriptStore(db: DatabaseSync) {
  return {
    /** Stores a transcript; `audit` also queues it for a validator (status "pending"). */
    record(t: Transcript, audit: boolean): void {
      inTransaction(db, () => {
        db.prepare(
          `INSERT OR REPLACE INTO transcripts (request_id, agent_id, channel_id, model_id, model, kind, request, output,
            prompt_token_ids, output_token_ids, sampling, receipt, signature, signer, charge, cumulative_charged,
            created_at, voucher_amount)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          t.requestId.toLowerCase(),
          t.agentId.toString(),
          t.channelId.toLowerCase(),
          t.modelId.toString(),
          t.model,
          t.kind,
          JSON.stringify(t.request),
          t.output,
          t.promptTokenIds === null ? null : JSON.stringify(t.promptTokenIds),
          t.outputTokenIds === null ? null : JSON.stringify(t.outputTokenIds),
          t.sampling === null ? null : JSON.stringify(t.sampling),
          JSON.stringify(t.receipt.receipt),
          t.receipt.signature,
          t.receipt.signer,
          t.receipt.receipt.charge,
          t.receipt.receipt.cumulativeCharged,
          t.createdAt,
          t.voucherAmount == null ? null : t.voucherAmount.toString(),
        );
        if (audit) {
          db.prepare("INSERT OR IGNORE INTO audits (request_id, status, created_at) VALUES (?, 'pending', ?)").run(
            t.requestId.toLowerCase(),
            t.createdAt,
          );
        }
      });
    },
    get(requestId: string): Transcript | undefined {
      const row = db.prepare("SELECT * FROM transcripts WHERE request_id = ?").get(requestId.toLowerCase()) as
        | Row
        | undefined;
      return row ? toTranscript(row) : undefined;
    },
    /** Transcripts, newest first (optionally of one channel). */
    list(filter: { channelId?: string; limit?: number } = {}): Transcript[] {
      const rows = (
        filter.channelId === undefined
          ? db.prepare("SELECT * FROM transcripts ORDER BY created_at DESC LIMIT ?").all(filter.limit ?? 1_000)
          : db
              .prepare("SELECT * FROM transcripts WHERE channel_id = ? ORDER BY created_at DESC LIMIT ?")
              .all(filter.channelId.toLowerCase(), filter.limit ?? 1_000)
      ) as Row[];
      return rows.map(toTranscript);
    },
    /** Audit queue entries with a given status (oldest first). */
    audits(status?: AuditStatus): AuditEntry[] {
      const rows = db
        .prepare(
          `SELECT t.*, a.status AS audit_status, a.attempts, a.last_error FROM audits a
           JOIN transcripts t ON t.request_id = a.request_id
           WHERE (? IS NULL OR a.status = ?) ORDER BY a.created_at`,
        )
        .all(status ?? null, status ?? null) as (Row & {
        audit_status: AuditStatus;
        attempts: number;
        last_error: string | null;
      })[];
      return rows.map((r) => ({
        transcript: toTranscript(r),
        status: r.audit_status,
        attempts: r.attempts,
        lastError: r.last_error,
      }));
    },
    markAuditSent(requestId: string, at: number): void {
      db.prepare("UPDATE audits SET status = 'sent', sent_at = ?, attempts = attempts + 1 WHERE request_id = ?").run(
        at,
        requestId.toLowerCase(),
      );
    },
    /** The validator refused the sample for good (its reason is kept); `flush` no longer retries it. */
    markAuditRejected(requestId: string, error: string): void {
      db.prepare(
        "UPDATE audits SET status = 'rejected', attempts = attempts + 1, last_error = ? WHERE request_id = ?",
      ).run(error, requestId.toLowerCase());
    },
    markAuditFailed(requestId: string, error: string): void {
      db.prepare("UPDATE audits SET attempts = attempts + 1, last_error = ? WHERE request_id = ?").run(
        error,
        requestId.toLowerCase(),
      );
    },
    /** Drops transcripts and audit entries older than `windowMs`; returns how many transcripts went. */
    cleanup(windowMs: number, now = Date.now()): number {
      const cutoff = now - windowMs;
      return inTransaction(db, () => {
        db.prepare("DELETE FROM audits WHERE created_at < ?").run(cutoff);
        return Number(db.prepare("DELETE FROM transcripts WHERE created_at < ?").run(cutoff).changes);
      });
    },
  };
}

export type TranscriptStore = ReturnType<typeof createTranscriptStore>;
