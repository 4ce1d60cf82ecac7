import type { DatabaseSync } from "node:sqlite";
import { inTransaction } from "@verity/chain";
import { PaymentError } from "@verity/core";

/** A request's maximum charge held from `owner`'s balance; `keyId` is the API key that asked for it. */
export type Hold = { id: number; owner: string; amount: bigint; keyId?: string };

/** Called inside the ledger's own transaction, so what a hook writes commits or rolls back with it. */
export type PrepaidLedgerHooks = {
  /** A request's maximum charge was held from `hold.owner`'s balance. */
  onHold?: (hold: Hold) => void;
  /** A hold was settled: `charged` (≤ the hold) is what the owner paid for the request `ref`. */
  onSettled?: (settled: { hold: Hold; charged: bigint; ref: string }) => void;
};

/**
 * Prepaid balances in SQLite, one per owner address (API keys, in api-keys.ts, spend them); deposits
 * through GatewayDeposits for that address credit it (idempotent per deposit event). A request
 * first holds its maximum charge, then settles to the actual charge and releases the rest, so a
 * request never takes a balance below zero, and a crash mid-request leaves at most a hold (released
 * on start). Only a deposit taken back after a reorg (`uncredit`) can leave a balance negative; holds
 * then fail until it is covered again.
 */
export function createPrepaidLedger(options: { db: DatabaseSync } & PrepaidLedgerHooks) {
  const { db } = options;
  // Joins a transaction the caller already opened (a refund credited with its own bookkeeping).
  const transaction = <T>(fn: () => T): T => (db.isTransaction ? fn() : inTransaction(db, fn));
  db.exec(`
    CREATE TABLE IF NOT EXISTS balances (owner TEXT PRIMARY KEY, balance TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS holds (id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, amount TEXT NOT NULL, created_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS ledger (
      id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, delta TEXT NOT NULL, reason TEXT NOT NULL,
      ref TEXT, created_at INTEGER NOT NULL, UNIQUE (reason, ref)
    );
  `);
  const holdColumns = (db.prepare("PRAGMA table_info(holds)").all() as { name: string }[]).map((c) => c.name);
  if (!holdColumns.includes("key_id")) db.exec("ALTER TABLE holds ADD COLUMN key_id TEXT");
  // Holds left by a crash are released: their requests never completed.
  inTransaction(db, () => {
    for (const hold of db.prepare("SELECT * FROM holds").all() as { id: number; owner: string; amount: string }[]) {
      adjust(hold.owner, BigInt(hold.amount));
      db.prepare("DELETE FROM holds WHERE id = ?").run(hold.id);
    }
  });

  function balanceOf(owner: string): bigint {
    const row = db.prepare("SELECT balance FROM balances WHERE owner = ?").get(owner.toLowerCase()) as
      | { balance: string }
      | undefined;
    return BigInt(row?.balance ?? "0");
  }
  function adjust(owner: string, delta: bigint): void {
    const next = balanceOf(owner) + delta;
    db.prepare(
      "INSERT INTO balances (owner, balance) VALUES (?, ?) ON CONFLICT (owner) DO UPDATE SET balance = excluded.balance",
    ).run(owner.toLowerCase(), next.toString());
  }

  return {
    balanceOf,
    /**
     * Credits `amount` once per `reason` and `ref` (a deposit: `txHash:logIndex`; a dispute refund:
     * the dispute id). Returns false when already credited. Inside a caller's transaction it joins it.
     */
    credit(args: { owner: string; amount: bigint; ref: string; reason?: string }): boolean {
      return transaction(() => {
        const inserted = db
          .prepare("INSERT OR IGNORE INTO ledger (owner, delta, reason, ref, created_at) VALUES (?, ?, ?, ?, ?)")
          .run(args.owner.toLowerCase(), args.amount.toString(), args.reason ?? "deposit", args.ref, Date.now());
        if (Number(inserted.changes) === 0) return false;
        adjust(args.owner, args.amount);
        return true;
      });
    },
    /**
     * Takes back a credit that no longer stands (a deposit whose block was reorganized away): the
     * entry is kept under a retired ref next to a `<reason>_reverted` entry of the opposite amount,
     * and the original ref may be credited again. The balance may go below zero when the credit was
     * already spent; holds then fail until it is covered. Returns false when nothing was credited.
     */
    uncredit(args: { ref: string; reason?: string }): boolean {
      return transaction(() => {
        const reason = args.reason ?? "deposit";
        const row = db
          .prepare("SELECT id, owner, delta FROM ledger WHERE reason = ? AND ref = ?")
          .get(reason, args.ref) as { id: number; owner: string; delta: string } | undefined;
        if (!row) return false;
        const retired = `${args.ref}@reverted:${row.id}`;
        db.prepare("UPDATE ledger SET ref = ? WHERE id = ?").run(retired, row.id);
        db.prepare("INSERT INTO ledger (owner, delta, reason, ref, created_at) VALUES (?, ?, ?, ?, ?)").run(
          row.owner,
          (-BigInt(row.delta)).toString(),
          `${reason}_reverted`,
          retired,
          Date.now(),
        );
        adjust(row.owner, -BigInt(row.delta));
        return true;
      });
    },
    /**
     * Holds `amount` of `owner`'s balance for a request asked for with API key `keyId`, or fails with
     * `insufficient_balance` (402) — or whatever an `onHold` hook throws (a key's spend limit).
     */
    hold(owner: string, amount: bigint, keyId?: string): Hold {
      return inTransaction(db, () => {
        const balance = balanceOf(owner);
        if (balance < amount) {
          throw new PaymentError(`The prepaid balance ${balance} does not cover this request's maximum of ${amount}`, {
            code: "insufficient_balance",
            hint: "Deposit with `verity gateway deposit` (or the GatewayDeposits contract), lower max_tokens, or pay per request with x402",
          });
        }
        adjust(owner, -amount);
        const result = db
          .prepare("INSERT INTO holds (owner, amount, created_at, key_id) VALUES (?, ?, ?, ?)")
          .run(owner.toLowerCase(), amount.toString(), Date.now(), keyId ?? null);
        const hold: Hold = {
          id: Number(result.lastInsertRowid),
          owner: owner.toLowerCase(),
          amount,
          ...(keyId ? { keyId } : {}),
        };
        options.onHold?.(hold);
        return hold;
      });
    },
    /** Settles a hold to `charge` (≤ the hold), releasing the rest, recorded under `ref`. */
    settle(hold: Hold, charge: bigint, ref: string): void {
      inTransaction(db, () => {
        const applied = charge < 0n ? 0n : charge < hold.amount ? charge : hold.amount;
        // A hold settles or releases once: a second settle (or one after a release) changes nothing.
        if (Number(db.prepare("DELETE FROM holds WHERE id = ?").run(hold.id).changes) === 0) return;
        adjust(hold.owner, hold.amount - applied);
        db.prepare(
          "INSERT OR IGNORE INTO ledger (owner, delta, reason, ref, created_at) VALUES (?, ?, 'request', ?, ?)",
        ).run(hold.owner, (-applied).toString(), ref, Date.now());
        options.onSettled?.({ hold, charged: applied, ref });
      });
    },
    /** The owner's ledger entries (deposits, requests, refunds), newest first. */
    entries(owner: string, args: { reason?: string; limit?: number } = {}): LedgerEntry[] {
      const rows = db
        .prepare(
          `SELECT delta, reason, ref, created_at FROM ledger WHERE owner = ? AND (? IS NULL OR reason = ?)
           ORDER BY id DESC LIMIT ?`,
        )
        .all(owner.toLowerCase(), args.reason ?? null, args.reason ?? null, args.limit ?? 100) as {
        delta: string;
        reason: string;
        ref: string | null;
        created_at: number;
      }[];
      return rows.map((r) => ({ delta: BigInt(r.delta), reason: r.reason, ref: r.ref, createdAt: r.created_at }));
    },
    /** Releases a hold entirely (the request failed: nothing is charged). */
    release(hold: Hold): void {
      inTransaction(db, () => {
        const deleted = db.prepare("DELETE FROM holds WHERE id = ?").run(hold.id);
        if (Number(deleted.changes) > 0) adjust(hold.owner, hold.amount);
      });
    },
  };
}

/** One balance change: `delta` in base units (negative for a request's charge). */
export type LedgerEntry = { delta: bigint; reason: string; ref: string | null; createdAt: number };

export type PrepaidLedger = ReturnType<typeof createPrepaidLedger>;
