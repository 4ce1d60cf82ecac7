import type { DatabaseSync } from "node:sqlite";

/** How far below the cursor range-end hashes are kept (far deeper than any reorg a chain survives). */
const KEEP_RANGE_ENDS_BELOW = 4_096;

/** A deposit the watcher credited, with the block it was seen in (to take it back on a reorg). */
export type StoredDeposit = { ref: string; account: string; amount: bigint; block: bigint; blockHash: string };

/**
 * The deposit watcher's SQLite state: the scan cursor (last scanned block and its hash), the hashes
 * of blocks the watcher relies on (range ends and blocks with credited deposits) to find the common
 * ancestor after a reorg, and the credited deposits by block.
 */
export function createDepositStore(db: DatabaseSync) {
  db.exec(`
    CREATE TABLE IF NOT EXISTS deposit_scan (id INTEGER PRIMARY KEY CHECK (id = 1), block TEXT NOT NULL, hash TEXT);
    CREATE TABLE IF NOT EXISTS deposit_blocks (block INTEGER PRIMARY KEY, hash TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS deposit_credits (
      ref TEXT PRIMARY KEY, account TEXT NOT NULL, amount TEXT NOT NULL, block INTEGER NOT NULL, block_hash TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS deposit_credits_block ON deposit_credits (block);
  `);
  return {
    /** The last scanned block and its hash, or undefined before the first range. */
    cursor(): { block: bigint; hash: string | null } | undefined {
      const row = db.prepare("SELECT block, hash FROM deposit_scan WHERE id = 1").get() as
        | { block: string; hash: string | null }
        | undefined;
      return row ? { block: BigInt(row.block), hash: row.hash } : undefined;
    },
    /** Moves the cursor to `block` (its hash remembered, `null` for "before the first block"). */
    setCursor(block: bigint, hash: string | null): void {
      db.prepare(
        "INSERT INTO deposit_scan (id, block, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET block = excluded.block, hash = excluded.hash",
      ).run(block.toString(), hash);
      if (hash !== null) this.rememberBlock(block, hash);
      // Range ends far below the cursor are never needed to find a reorg's common ancestor.
      db.prepare("DELETE FROM deposit_blocks WHERE block < ? AND block NOT IN (SELECT block FROM deposit_credits)").run(
        Number(block) - KEEP_RANGE_ENDS_BELOW,
      );
    },
    rememberBlock(block: bigint, hash: string): void {
      db.prepare(
        "INSERT INTO deposit_blocks (block, hash) VALUES (?, ?) ON CONFLICT (block) DO UPDATE SET hash = excluded.hash",
      ).run(Number(block), hash);
    },
    /** Remembered blocks below `below`, newest first. */
    blocksBelow(below: bigint): { block: bigint; hash: string }[] {
      const rows = db
        .prepare("SELECT block, hash FROM deposit_blocks WHERE block < ? ORDER BY block DESC")
        .all(Number(below)) as { block: number; hash: string }[];
      return rows.map((r) => ({ block: BigInt(r.block), hash: r.hash }));
    },
    recordCredit(d: StoredDeposit): void {
      db.prepare(
        "INSERT OR REPLACE INTO deposit_credits (ref, account, amount, block, block_hash) VALUES (?, ?, ?, ?, ?)",
      ).run(d.ref, d.account.toLowerCase(), d.amount.toString(), Number(d.block), d.blockHash);
      this.rememberBlock(d.block, d.blockHash);
    },
    /** Forgets every credit and remembered block above `block`; returns the forgotten credits. */
    dropAbove(block: bigint): StoredDeposit[] {
      const rows = db
        .prepare("SELECT ref, account, amount, block, block_hash FROM deposit_credits WHERE block > ?")
        .all(Number(block)) as { ref: string; account: string; amount: string; block: number; block_hash: string }[];
      db.prepare("DELETE FROM deposit_credits WHERE block > ?").run(Number(block));
      db.prepare("DELETE FROM deposit_blocks WHERE block > ?").run(Number(block));
      return rows.map((r) => ({
        ref: r.ref,
        account: r.account,
        amount: BigInt(r.amount),
        block: BigInt(r.block),
        blockHash: r.block_hash,
      }));
    },
  };
}

export type DepositStore = ReturnType<typeof createDepositStore>;
