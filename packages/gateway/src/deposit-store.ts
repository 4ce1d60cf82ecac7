import type { StoreQueryable } from "./store/index.ts";

/** How far below the cursor range-end hashes are kept (far deeper than any reorg a chain survives). */
const KEEP_RANGE_ENDS_BELOW = 4_096n;

/** A deposit the watcher credited, with the block it was seen in (to take it back on a reorg). */
export type StoredDeposit = { ref: string; account: string; amount: bigint; block: bigint; blockHash: string };

type Cursor = { block: bigint; hash: string | null };

/**
 * The deposit watcher's state in the gateway store, per gateway address (replicas of one gateway
 * share it): the scan cursor (last scanned block and its hash), the hashes of blocks the watcher
 * relies on (range ends and blocks with credited deposits) to find the common ancestor after a
 * reorg, and the credited deposits by block. Every call takes the `tx` (or store) to run on.
 */
export function createDepositStore(options: { gateway: `0x${string}` }) {
  const gateway = options.gateway.toLowerCase();
  /** A row of block -1 without a hash is the placeholder `lockCursor` creates: no cursor yet. */
  const toCursor = (row: { block: string; hash: string | null } | undefined): Cursor | undefined =>
    row && !(row.block === "-1" && row.hash === null) ? { block: BigInt(row.block), hash: row.hash } : undefined;

  async function rememberBlock(tx: StoreQueryable, block: bigint, hash: string): Promise<void> {
    await tx.query(
      `INSERT INTO deposit_blocks (gateway, block, hash) VALUES ($1, $2, $3)
       ON CONFLICT (gateway, block) DO UPDATE SET hash = excluded.hash`,
      [gateway, block, hash],
    );
  }

  return {
    /** The last scanned block and its hash, or undefined before the first range. */
    async cursor(tx: StoreQueryable): Promise<Cursor | undefined> {
      return toCursor(
        (
          await tx.query<{ block: string; hash: string | null }>(
            "SELECT block, hash FROM deposit_scan WHERE gateway = $1",
            [gateway],
          )
        )[0],
      );
    },
    /**
     * The cursor, its row locked until `tx` ends (created first when missing, so there is always a
     * row to lock): a replica decides on it while the others wait.
     */
    async lockCursor(tx: StoreQueryable): Promise<Cursor | undefined> {
      await tx.query(
        "INSERT INTO deposit_scan (gateway, block, hash) VALUES ($1, -1, NULL) ON CONFLICT (gateway) DO NOTHING",
        [gateway],
      );
      return toCursor(
        (
          await tx.query<{ block: string; hash: string | null }>(
            "SELECT block, hash FROM deposit_scan WHERE gateway = $1 FOR UPDATE",
            [gateway],
          )
        )[0],
      );
    },
    /** Moves the cursor to `block` (its hash remembered, `null` for "before the first block"). */
    async setCursor(tx: StoreQueryable, block: bigint, hash: string | null): Promise<void> {
      await tx.query(
        `INSERT INTO deposit_scan (gateway, block, hash) VALUES ($1, $2, $3)
         ON CONFLICT (gateway) DO UPDATE SET block = excluded.block, hash = excluded.hash`,
        [gateway, block, hash],
      );
      if (hash !== null) await rememberBlock(tx, block, hash);
      // Range ends far below the cursor are never needed to find a reorg's common ancestor.
      await tx.query(
        `DELETE FROM deposit_blocks WHERE gateway = $1 AND block < $2
         AND block NOT IN (SELECT block FROM deposit_credits WHERE gateway = $1)`,
        [gateway, block - KEEP_RANGE_ENDS_BELOW],
      );
    },
    rememberBlock,
    /** Remembered blocks below `below`, newest first. */
    async blocksBelow(tx: StoreQueryable, below: bigint): Promise<{ block: bigint; hash: string }[]> {
      const rows = await tx.query<{ block: string; hash: string }>(
        "SELECT block, hash FROM deposit_blocks WHERE gateway = $1 AND block < $2 ORDER BY block DESC",
        [gateway, below],
      );
      return rows.map((r) => ({ block: BigInt(r.block), hash: r.hash }));
    },
    async recordCredit(tx: StoreQueryable, d: StoredDeposit): Promise<void> {
      await tx.query(
        `INSERT INTO deposit_credits (ref, gateway, account, amount, block, block_hash) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (ref) DO UPDATE SET account = excluded.account, amount = excluded.amount,
           block = excluded.block, block_hash = excluded.block_hash`,
        [d.ref, gateway, d.account.toLowerCase(), d.amount, d.block, d.blockHash],
      );
      await rememberBlock(tx, d.block, d.blockHash);
    },
    /** Forgets every credit and remembered block above `block`; returns the forgotten credits. */
    async dropAbove(tx: StoreQueryable, block: bigint): Promise<StoredDeposit[]> {
      const rows = await tx.query<{ ref: string; account: string; amount: string; block: string; block_hash: string }>(
        "DELETE FROM deposit_credits WHERE gateway = $1 AND block > $2 RETURNING ref, account, amount, block, block_hash",
        [gateway, block],
      );
      await tx.query("DELETE FROM deposit_blocks WHERE gateway = $1 AND block > $2", [gateway, block]);
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
