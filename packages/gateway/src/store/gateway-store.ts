/**
 * The gateway's storage: one async interface over PGlite (an embedded, on-disk Postgres: the default,
 * nothing to install) and a real Postgres server (`--database postgres://…`, what several gateway
 * replicas share). SQL is Postgres on both, with `$1, $2, …` parameters.
 *
 * Values: token amounts are `NUMERIC(78,0)` and ids, times and counters `BIGINT`/`BIGSERIAL`; both
 * come back as decimal strings (never a lossy JS number) on both backends, and a `bigint` parameter
 * is sent as its decimal string, so `BigInt(row.amount)` round-trips any uint256.
 */

/** A parameter: bigints go out as decimal strings; `null` is SQL NULL. */
export type StoreParam = string | number | bigint | boolean | null | Date | Uint8Array;

export type StoreIsolation = "serializable" | "read committed";

/** What can run SQL: the store itself, or a transaction handed to `transaction`'s callback. */
export type StoreQueryable = {
  /** Runs one statement with `$n` parameters; returns its rows (empty for statements without any). */
  query<T = Record<string, unknown>>(sql: string, params?: readonly StoreParam[]): Promise<T[]>;
  /** Runs one or more statements without parameters (schema, migrations). */
  exec(sql: string): Promise<void>;
};

/** A transaction in progress: every statement through it commits or rolls back together. */
export type StoreTx = StoreQueryable;

export type TransactionOptions = {
  /**
   * `read committed` (default): each statement sees what committed before it; pair it with
   * `SELECT … FOR UPDATE` on the rows a decision rests on. `serializable`: the transaction behaves as
   * if it ran alone; a conflicting one fails with SQLSTATE 40001 and is retried from the start, so
   * the callback must do nothing but SQL through `tx` (it may run more than once).
   */
  isolation?: StoreIsolation;
};

export type GatewayStore = StoreQueryable & {
  readonly kind: "pglite" | "postgres";
  /**
   * Runs `fn` in one transaction: COMMIT when it resolves, ROLLBACK when it throws (the error is
   * rethrown). On Postgres a serialization failure (40001) or deadlock (40P01) runs `fn` again a few
   * times after a short random pause. Use `tx` inside, never the store itself.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Waits for running work, then closes the connection(s). */
  close(): Promise<void>;
};

/** SQLSTATE of a database error (both drivers expose it as `code`), or undefined. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** Parameters as both drivers take them: bigints as decimal strings. */
export function toDriverParams(params: readonly StoreParam[] | undefined): unknown[] {
  return (params ?? []).map((p) => (typeof p === "bigint" ? p.toString() : p));
}

export const BEGIN: Record<StoreIsolation, string> = {
  serializable: "BEGIN ISOLATION LEVEL SERIALIZABLE",
  "read committed": "BEGIN ISOLATION LEVEL READ COMMITTED",
};
