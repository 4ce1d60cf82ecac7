import type { DatabaseSync } from "node:sqlite";
import { createGroupCommit, inTransaction, openDatabase } from "@verity/chain";

/** A completed, charged request as persisted before its response completes. */
export type CompletedRequest = {
  requestId: `0x${string}`;
  channelId: `0x${string}`;
  model: string;
  voucherAmount: bigint;
  voucherSignature: `0x${string}`;
  promptTokens: number;
  completionTokens: number;
  charge: bigint;
  cumulativeCharged: bigint;
  receipt: string;
  signature: `0x${string}`;
  createdAt: number;
};

export type ChannelCharges = {
  channelId: `0x${string}`;
  charged: bigint;
  voucherAmount: bigint;
  voucherSignature: `0x${string}` | null;
  claimed: bigint;
  firstUnclaimedAt: number | null;
};

export type ClaimItem = { channelId: `0x${string}`; amount: bigint; voucherAmount: bigint; signature: `0x${string}` };

/**
 * The last claim of a channel the contract skipped (or the whole batch reverted for): its reason
 * code, and the voucher and on-chain deposit it was tried with, so it is retried only once one of
 * them changes. The charges stay owed (`charged > claimed`) until a claim settles them.
 */
export type ClaimSkip = {
  channelId: `0x${string}`;
  reason: string;
  voucherAmount: bigint;
  deposit: bigint;
  claimId: number;
  skippedAt: number;
};

/**
 * The provider's durable state: what each channel owes (charged total and the best voucher held),
 * every completed request with its receipt, and claim transactions. SQLite in WAL mode with group
 * commit: `recordCompletion` commits at once (safe against `kill -9`) and resolves only once the
 * WAL is flushed to disk, one flush for every request that completed meanwhile; the HTTP layer
 * completes a response only after that. A store given an open `db` keeps that connection's own
 * synchronous setting and resolves at commit.
 */
export function createProviderStore(options: { path: string } | { db: DatabaseSync }) {
  const db = "db" in options ? options.db : openDatabase(options.path, { synchronous: "NORMAL" });
  const group = createGroupCommit({ db, path: "db" in options ? ":memory:" : options.path });
  db.exec(`
    CREATE TABLE IF NOT EXISTS channel_charges (
      channel_id TEXT PRIMARY KEY, charged TEXT NOT NULL, voucher_amount TEXT NOT NULL,
      voucher_signature TEXT, claimed TEXT NOT NULL DEFAULT '0', first_unclaimed_at INTEGER, updated_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS requests (
      request_id TEXT PRIMARY KEY, channel_id TEXT NOT NULL, model TEXT NOT NULL,
      voucher_amount TEXT NOT NULL, voucher_signature TEXT NOT NULL,
      prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, charge TEXT NOT NULL,
      cumulative_charged TEXT NOT NULL, receipt TEXT NOT NULL, signature TEXT NOT NULL, created_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS requests_voucher ON requests (channel_id, voucher_amount);
    CREATE TABLE IF NOT EXISTS claims (
      id INTEGER PRIMARY KEY AUTOINCREMENT, status TEXT NOT NULL, tx_hash TEXT, items TEXT NOT NULL,
      error TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS claim_skips (
      channel_id TEXT PRIMARY KEY, reason TEXT NOT NULL, voucher_amount TEXT NOT NULL, deposit TEXT NOT NULL,
      claim_id INTEGER NOT NULL, skipped_at INTEGER NOT NULL
    );
  `);
  const selectChannel = db.prepare("SELECT * FROM channel_charges WHERE channel_id = ?");
  const selectVoucherUse = db.prepare("SELECT 1 FROM requests WHERE channel_id = ? AND voucher_amount = ? LIMIT 1");
  const insertRequest = db.prepare(
    `INSERT INTO requests (request_id, channel_id, model, voucher_amount, voucher_signature, prompt_tokens,
      completion_tokens, charge, cumulative_charged, receipt, signature, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const upsertCharges = db.prepare(
    `INSERT INTO channel_charges (channel_id, charged, voucher_amount, voucher_signature, claimed, first_unclaimed_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (channel_id) DO UPDATE SET charged = excluded.charged, voucher_amount = excluded.voucher_amount,
       voucher_signature = excluded.voucher_signature, first_unclaimed_at = excluded.first_unclaimed_at,
       updated_at = excluded.updated_at`,
  );

  function toCharges(row: Record<string, unknown> | undefined, channelId: `0x${string}`): ChannelCharges {
    if (!row) {
      return { channelId, charged: 0n, voucherAmount: 0n, voucherSignature: null, claimed: 0n, firstUnclaimedAt: null };
    }
    return {
      channelId,
      charged: BigInt(String(row.charged)),
      voucherAmount: BigInt(String(row.voucher_amount)),
      voucherSignature: (row.voucher_signature as `0x${string}` | null) ?? null,
      claimed: BigInt(String(row.claimed)),
      firstUnclaimedAt: (row.first_unclaimed_at as number | null) ?? null,
    };
  }

  // Write-through cache of channel_charges rows: every write to that table goes through this store
  // (recordCompletion, markClaimed), which updates the entry after its statement succeeded; the
  // hot path (payment gate, charged total under the completion lock) reads it without SQL.
  const charges = new Map<string, ChannelCharges>();
  function readCharges(channelId: `0x${string}`): ChannelCharges {
    const row = toCharges(selectChannel.get(channelId) as Record<string, unknown> | undefined, channelId);
    charges.set(channelId, row);
    return row;
  }

  function channel(channelId: `0x${string}`): ChannelCharges {
    return charges.get(channelId) ?? readCharges(channelId);
  }

  return {
    db,
    channel,
    /** True when a request on this channel was already paid with a voucher of exactly this amount. */
    voucherUsed(channelId: `0x${string}`, amount: bigint): boolean {
      // The channel's row keeps the largest voucher of any recorded request: above it, none used it.
      if (amount > channel(channelId).voucherAmount) return false;
      return selectVoucherUse.get(channelId, amount.toString()) !== undefined;
    },
    /**
     * Persists a completed request and the channel's new charged total in one transaction; resolves
     * once it is on disk (group commit).
     */
    recordCompletion(request: CompletedRequest): Promise<void> {
      charges.delete(request.channelId); // read again from SQL should the transaction fail
      const written = inTransaction(db, (): ChannelCharges => {
        insertRequest.run(
          request.requestId,
          request.channelId,
          request.model,
          request.voucherAmount.toString(),
          request.voucherSignature,
          request.promptTokens,
          request.completionTokens,
          request.charge.toString(),
          request.cumulativeCharged.toString(),
          request.receipt,
          request.signature,
          request.createdAt,
        );
        const current = toCharges(
          selectChannel.get(request.channelId) as Record<string, unknown> | undefined,
          request.channelId,
        );
        const better = request.voucherAmount > current.voucherAmount;
        const row: ChannelCharges = {
          channelId: request.channelId,
          charged: request.cumulativeCharged,
          voucherAmount: better ? request.voucherAmount : current.voucherAmount,
          voucherSignature: better ? request.voucherSignature : current.voucherSignature,
          claimed: current.claimed,
          firstUnclaimedAt:
            request.charge > 0n ? (current.firstUnclaimedAt ?? request.createdAt) : current.firstUnclaimedAt,
        };
        upsertCharges.run(
          request.channelId,
          row.charged.toString(),
          row.voucherAmount.toString(),
          row.voucherSignature,
          row.claimed.toString(),
          row.firstUnclaimedAt,
          request.createdAt,
        );
        return row;
      });
      // Committed: the row now holds exactly `written`.
      charges.set(request.channelId, written);
      return group.durable();
    },
    /** Channels with charges not yet claimed on-chain. */
    unclaimed(): ChannelCharges[] {
      const rows = db
        .prepare("SELECT * FROM channel_charges WHERE CAST(charged AS NUMERIC) > CAST(claimed AS NUMERIC)")
        .all() as Record<string, unknown>[];
      return rows
        .map((row) => toCharges(row, row.channel_id as `0x${string}`))
        .filter((c) => c.charged > c.claimed && c.voucherSignature !== null);
    },
    /** Records that the chain has settled `channelId` up to `claimed` (from a confirmed claim or the chain). */
    markClaimed(channelId: `0x${string}`, claimed: bigint, now: number): void {
      const current = toCharges(selectChannel.get(channelId) as Record<string, unknown> | undefined, channelId);
      if (claimed <= current.claimed) return;
      charges.delete(channelId);
      db.prepare(
        "UPDATE channel_charges SET claimed = ?, first_unclaimed_at = ?, updated_at = ? WHERE channel_id = ?",
      ).run(claimed.toString(), claimed >= current.charged ? null : now, now, channelId);
    },
    /** Records (or replaces) the skip of `channelId`'s claim. */
    recordSkip(skip: ClaimSkip): void {
      db.prepare(
        `INSERT INTO claim_skips (channel_id, reason, voucher_amount, deposit, claim_id, skipped_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (channel_id) DO UPDATE SET reason = excluded.reason, voucher_amount = excluded.voucher_amount,
           deposit = excluded.deposit, claim_id = excluded.claim_id, skipped_at = excluded.skipped_at`,
      ).run(
        skip.channelId,
        skip.reason,
        skip.voucherAmount.toString(),
        skip.deposit.toString(),
        skip.claimId,
        skip.skippedAt,
      );
    },
    /** Forgets the skip of `channelId` (a later claim of it was paid). */
    clearSkip(channelId: `0x${string}`): void {
      db.prepare("DELETE FROM claim_skips WHERE channel_id = ?").run(channelId);
    },
    /** Every recorded skip, by channel. */
    skips(): Map<`0x${string}`, ClaimSkip> {
      const rows = db.prepare("SELECT * FROM claim_skips").all() as Record<string, unknown>[];
      return new Map(
        rows.map((row) => {
          const channelId = row.channel_id as `0x${string}`;
          const skip: ClaimSkip = {
            channelId,
            reason: String(row.reason),
            voucherAmount: BigInt(String(row.voucher_amount)),
            deposit: BigInt(String(row.deposit)),
            claimId: Number(row.claim_id),
            skippedAt: Number(row.skipped_at),
          };
          return [channelId, skip];
        }),
      );
    },
    beginClaim(items: readonly ClaimItem[], now: number): number {
      const json = JSON.stringify(items, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
      const result = db
        .prepare("INSERT INTO claims (status, items, created_at, updated_at) VALUES ('pending', ?, ?, ?)")
        .run(json, now, now);
      return Number(result.lastInsertRowid);
    },
    updateClaim(
      id: number,
      fields: { status: "sent" | "confirmed" | "failed"; txHash?: string; error?: string },
      now: number,
    ) {
      db.prepare(
        "UPDATE claims SET status = ?, tx_hash = COALESCE(?, tx_hash), error = ?, updated_at = ? WHERE id = ?",
      ).run(fields.status, fields.txHash ?? null, fields.error ?? null, now, id);
    },
    openClaims(): { id: number; status: string; txHash: string | null; items: ClaimItem[] }[] {
      const rows = db.prepare("SELECT * FROM claims WHERE status IN ('pending', 'sent') ORDER BY id").all() as Record<
        string,
        unknown
      >[];
      return rows.map((row) => ({
        id: Number(row.id),
        status: String(row.status),
        txHash: (row.tx_hash as string | null) ?? null,
        items: (JSON.parse(String(row.items)) as Record<string, string>[]).map((i) => ({
          channelId: i.channelId as `0x${string}`,
          amount: BigInt(i.amount ?? "0"),
          voucherAmount: BigInt(i.voucherAmount ?? "0"),
          signature: i.signature as `0x${string}`,
        })),
      }));
    },
    /** Totals for `verity provider status` and the metrics endpoint. */
    totals(): { requests: number; charged: bigint; claimed: bigint; channels: number } {
      const requests = (db.prepare("SELECT COUNT(*) AS n FROM requests").get() as { n: number }).n;
      const rows = db.prepare("SELECT charged, claimed FROM channel_charges").all() as {
        charged: string;
        claimed: string;
      }[];
      let charged = 0n;
      let claimed = 0n;
      for (const row of rows) {
        charged += BigInt(row.charged);
        claimed += BigInt(row.claimed);
      }
      return { requests, charged, claimed, channels: rows.length };
    },
    /** Disk flushes so far (one per group of commits that arrived together). */
    get flushes(): number {
      return group.flushes;
    },
    close(): void {
      group.close();
      db.close();
    },
  };
}

export type ProviderStore = ReturnType<typeof createProviderStore>;
