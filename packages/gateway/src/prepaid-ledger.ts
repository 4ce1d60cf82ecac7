import { randomUUID } from "node:crypto";
import { PaymentError } from "@verity/core";
import type { GatewayStore, StoreQueryable, StoreTx } from "./store/index.ts";

/** A request's maximum charge held from `owner`'s balance; `keyId` is the API key that asked for it. */
export type Hold = { id: string; owner: string; amount: bigint; keyId?: string };

/** Called inside the ledger's own transaction (`tx`), so what a hook writes commits or rolls back with it. */
export type PrepaidLedgerHooks = {
  /**
   * A request's maximum charge was held from `hold.owner`'s balance. For a hold with a `keyId` the
   * hold's own statement already locked that key's `api_keys` row (`FOR UPDATE`, after the balance
   * row) and hands it over as `locked.keyRow` (every column; null when no such key exists).
   */
  onHold?: (hold: Hold, tx: StoreTx, locked: { keyRow?: Record<string, unknown> | null }) => Promise<void> | void;
  /**
   * A hold was settled: `charged` (≤ the hold) is what the owner paid for the request `ref`. The
   * settlement itself already added `charged` to the API key's `spent` (`hold.keyId`).
   */
  onSettled?: (settled: { hold: Hold; charged: bigint; ref: string }, tx: StoreTx) => Promise<void> | void;
};

/** How long a hold may stay open before any replica may release it as abandoned (default 15 min). */
export const DEFAULT_HOLD_TIMEOUT_MS = 15 * 60_000;

/** Adds `delta` to `owner`'s balance (the row is created at the first credit) in one statement. */
async function adjust(tx: StoreQueryable, owner: string, delta: bigint): Promise<void> {
  await tx.query(
    `INSERT INTO balances (owner, balance) VALUES ($1, $2)
     ON CONFLICT (owner) DO UPDATE SET balance = balances.balance + excluded.balance`,
    [owner.toLowerCase(), delta],
  );
}

/**
 * Prepaid balances in the gateway store, one per owner address (API keys, in api-keys.ts, spend
 * them); deposits through GatewayDeposits for that address credit it (idempotent per deposit event).
 * A request first holds its maximum charge — one conditional `UPDATE … WHERE balance >= amount`, so
 * replicas sharing the database can never overdraw a balance together — then settles to the actual
 * charge and releases the rest. Each hold names the replica (`replicaId`, one per process) that made
 * it: a crash leaves at most holds, released by `releaseAbandonedHolds`. Only a deposit taken back
 * after a reorg (`uncredit`) can leave a balance negative; holds then fail until it is covered.
 */
export function createPrepaidLedger(
  options: {
    store: GatewayStore;
    /** This process's id, recorded on its holds (default: a random id per ledger). */
    replicaId?: string;
    holdTimeoutMs?: number;
    now?: () => number;
  } & PrepaidLedgerHooks,
) {
  const { store } = options;
  const replicaId = options.replicaId ?? randomUUID();
  const now = options.now ?? Date.now;
  /** Joins the caller's transaction when it passes one (a refund credited with its own bookkeeping). */
  const within = <T>(tx: StoreTx | undefined, fn: (tx: StoreTx) => Promise<T>): Promise<T> =>
    tx ? fn(tx) : store.transaction(fn);

  async function balanceOf(owner: string, tx: StoreQueryable = store): Promise<bigint> {
    const [row] = await tx.query<{ balance: string }>("SELECT balance FROM balances WHERE owner = $1", [
      owner.toLowerCase(),
    ]);
    return BigInt(row?.balance ?? "0");
  }

  return {
    replicaId,
    balanceOf: (owner: string) => balanceOf(owner),
    /**
     * Releases holds whose requests can no longer complete: this replica id's (a restart under the
     * same `--replica-id`), any older than the hold timeout, or — `all`, for an embedded database
     * only one process can open — every hold. Another live replica's recent holds are left alone.
     * `expiredOnly` (the periodic sweep of a running replica) releases only holds past the timeout.
     * Returns how many were released.
     */
    async releaseAbandonedHolds(args: { all?: boolean; expiredOnly?: boolean } = {}): Promise<number> {
      return store.transaction(async (tx) => {
        const released = await tx.query<{ owner: string; amount: string }>(
          `DELETE FROM holds WHERE $1 OR ($2 AND replica = $3) OR created_at < $4 RETURNING owner, amount`,
          [
            args.all === true,
            args.expiredOnly !== true,
            replicaId,
            now() - (options.holdTimeoutMs ?? DEFAULT_HOLD_TIMEOUT_MS),
          ],
        );
        for (const hold of released) await adjust(tx, hold.owner, BigInt(hold.amount));
        return released.length;
      });
    },
    /**
     * Credits `amount` once per `reason` and `ref` (a deposit: `txHash:logIndex`; a dispute refund:
     * the dispute id). Returns false when already credited (by this or any replica). With `tx` it
     * runs inside the caller's transaction.
     */
    credit(args: { owner: string; amount: bigint; ref: string; reason?: string; tx?: StoreTx }): Promise<boolean> {
      return within(args.tx, async (tx) => {
        const inserted = await tx.query(
          `INSERT INTO ledger (owner, delta, reason, ref, created_at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (reason, ref) DO NOTHING RETURNING id`,
          [args.owner.toLowerCase(), args.amount, args.reason ?? "deposit", args.ref, now()],
        );
        if (inserted.length === 0) return false;
        await adjust(tx, args.owner, args.amount);
        return true;
      });
    },
    /**
     * Takes back a credit that no longer stands (a deposit whose block was reorganized away): the
     * entry is kept under a retired ref next to a `<reason>_reverted` entry of the opposite amount,
     * and the original ref may be credited again. The balance may go below zero when the credit was
     * already spent; holds then fail until it is covered. Returns false when nothing was credited.
     */
    uncredit(args: { ref: string; reason?: string; tx?: StoreTx }): Promise<boolean> {
      return within(args.tx, async (tx) => {
        const reason = args.reason ?? "deposit";
        const [row] = await tx.query<{ id: string; owner: string; delta: string }>(
          "SELECT id, owner, delta FROM ledger WHERE reason = $1 AND ref = $2 FOR UPDATE",
          [reason, args.ref],
        );
        if (!row) return false;
        const retired = `${args.ref}@reverted:${row.id}`;
        await tx.query("UPDATE ledger SET ref = $1 WHERE id = $2", [retired, row.id]);
        await tx.query("INSERT INTO ledger (owner, delta, reason, ref, created_at) VALUES ($1, $2, $3, $4, $5)", [
          row.owner,
          -BigInt(row.delta),
          `${reason}_reverted`,
          retired,
          now(),
        ]);
        await adjust(tx, row.owner, -BigInt(row.delta));
        return true;
      });
    },
    /**
     * Holds `amount` of `owner`'s balance for a request asked for with API key `keyId`, or fails with
     * `insufficient_balance` (402) — or whatever an `onHold` hook throws (a key's spend limit), which
     * rolls the hold back.
     */
    hold(owner: string, amount: bigint, keyId?: string): Promise<Hold> {
      const lower = owner.toLowerCase();
      return store.transaction(async (tx) => {
        // Debit and hold in one statement (one round trip): no balance row or too little, no hold.
        // With a key, the same statement then locks the key's row (only once the balance row is
        // locked, the order every settlement takes them in) and returns it for the hooks to check.
        const [row] = keyId
          ? await tx.query<{ hold_id: string | null } & Record<string, unknown>>(
              `WITH debited AS (
                 UPDATE balances SET balance = balance - $1::numeric WHERE owner = $2 AND balance >= $1::numeric RETURNING owner
               ), held AS (
                 INSERT INTO holds (owner, amount, key_id, replica, created_at)
                 SELECT owner, $1::numeric, $3, $4, $5 FROM debited RETURNING id
               ), locked AS (
                 SELECT * FROM api_keys WHERE id = $3 AND EXISTS (SELECT 1 FROM debited) FOR UPDATE
               )
               SELECT (SELECT id FROM held) AS hold_id, locked.* FROM (SELECT 1) AS one LEFT JOIN locked ON true`,
              [amount, lower, keyId, replicaId, now()],
            )
          : (
              await tx.query<{ id: string }>(
                `WITH debited AS (
                   UPDATE balances SET balance = balance - $1::numeric WHERE owner = $2 AND balance >= $1::numeric RETURNING owner
                 )
                 INSERT INTO holds (owner, amount, key_id, replica, created_at)
                 SELECT owner, $1::numeric, NULL, $3, $4 FROM debited RETURNING id`,
                [amount, lower, replicaId, now()],
              )
            ).map((r) => ({ hold_id: r.id }) as { hold_id: string | null } & Record<string, unknown>);
        if (!row?.hold_id) {
          const balance = await balanceOf(lower, tx);
          throw new PaymentError(`The prepaid balance ${balance} does not cover this request's maximum of ${amount}`, {
            code: "insufficient_balance",
            hint: "Deposit with `verity gateway deposit` (or the GatewayDeposits contract), lower max_tokens, or pay per request with x402",
          });
        }
        const { hold_id: holdId, ...keyRow } = row;
        const hold: Hold = { id: String(holdId), owner: lower, amount, ...(keyId ? { keyId } : {}) };
        await options.onHold?.(hold, tx, keyId ? { keyRow: keyRow.id == null ? null : keyRow } : {});
        return hold;
      });
    },
    /**
     * Settles a hold to `charge` (≤ the hold), releasing the rest, recorded under `ref`. A hold
     * already released (taken for abandoned) is charged from the balance directly, so the ledger
     * and the balance agree either way.
     */
    async settle(hold: Hold, charge: bigint, ref: string): Promise<void> {
      await store.transaction(async (tx) => {
        const applied = charge < 0n ? 0n : charge < hold.amount ? charge : hold.amount;
        // A request is charged once: a second settle under the same ref changes nothing. Record,
        // release the hold, adjust the balance and add the charge to the API key's spend in one
        // statement (one round trip): the balance gets back the unused part of the hold, or — a
        // hold already released as abandoned — pays the charge directly.
        const [result] = await tx.query<{ recorded: string }>(
          `WITH recorded AS (
             INSERT INTO ledger (owner, delta, reason, ref, created_at) VALUES ($1, $2::numeric, 'request', $3, $4)
             ON CONFLICT (reason, ref) DO NOTHING RETURNING id
           ), released AS (
             DELETE FROM holds WHERE id = $5 AND EXISTS (SELECT 1 FROM recorded) RETURNING id
           ), adjusted AS (
             INSERT INTO balances (owner, balance)
             SELECT $1, CASE WHEN EXISTS (SELECT 1 FROM released) THEN $6::numeric ELSE $2::numeric END FROM recorded
             ON CONFLICT (owner) DO UPDATE SET balance = balances.balance + excluded.balance RETURNING 1
           ), spent AS (
             UPDATE api_keys SET spent = spent + $8::numeric
             WHERE id = $7 AND $8::numeric > 0 AND EXISTS (SELECT 1 FROM recorded) RETURNING 1
           )
           SELECT (SELECT count(*) FROM recorded) AS recorded, (SELECT count(*) FROM adjusted) AS adjusted`,
          [hold.owner, -applied, ref, now(), hold.id, hold.amount - applied, hold.keyId ?? null, applied],
        );
        if (Number(result?.recorded ?? 0) === 0) return;
        await options.onSettled?.({ hold, charged: applied, ref }, tx);
      });
    },
    /** The owner's ledger entries (deposits, requests, refunds), newest first. */
    async entries(owner: string, args: { reason?: string; limit?: number } = {}): Promise<LedgerEntry[]> {
      const rows = await store.query<{ delta: string; reason: string; ref: string | null; created_at: string }>(
        `SELECT delta, reason, ref, created_at FROM ledger WHERE owner = $1 AND ($2::text IS NULL OR reason = $2)
         ORDER BY id DESC LIMIT $3`,
        [owner.toLowerCase(), args.reason ?? null, args.limit ?? 100],
      );
      return rows.map((r) => ({
        delta: BigInt(r.delta),
        reason: r.reason,
        ref: r.ref,
        createdAt: Number(r.created_at),
      }));
    },
    /** Releases a hold entirely (the request failed: nothing is charged). */
    async release(hold: Hold): Promise<void> {
      await store.transaction(async (tx) => {
        const deleted = await tx.query("DELETE FROM holds WHERE id = $1 RETURNING id", [hold.id]);
        if (deleted.length > 0) await adjust(tx, hold.owner, hold.amount);
      });
    },
  };
}

/** One balance change: `delta` in base units (negative for a request's charge). */
export type LedgerEntry = { delta: bigint; reason: string; ref: string | null; createdAt: number };

export type PrepaidLedger = ReturnType<typeof createPrepaidLedger>;
