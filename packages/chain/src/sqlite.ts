import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";

/**
 * Opens (creating if needed) a SQLite database in WAL mode with `synchronous=FULL`, so a committed
 * transaction survives `kill -9` and power loss. `:memory:` gives a throwaway database.
 * `synchronous: "NORMAL"` commits without waiting for the disk (still safe against `kill -9`);
 * pair it with `createGroupCommit` and acknowledge only after `durable()` to keep power-loss
 * durability without blocking the event loop.
 */
export function openDatabase(path: string, options: { synchronous?: "FULL" | "NORMAL" } = {}): DatabaseSync {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(`PRAGMA synchronous = ${options.synchronous === "NORMAL" ? "NORMAL" : "FULL"}`);
  db.exec("PRAGMA foreign_keys = ON");
  db.exec("PRAGMA busy_timeout = 5000");
  return db;
}

/** Runs `fn` inside one transaction (BEGIN IMMEDIATE … COMMIT), rolling back if it throws. */
export function inTransaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = fn();
    db.exec("COMMIT");
    return result;
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}
