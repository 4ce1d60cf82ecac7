import { AsyncLocalStorage } from "node:async_hooks";
import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { StorageError } from "@verity/core";
import {
  BEGIN,
  type GatewayStore,
  type StoreParam,
  type StoreQueryable,
  type TransactionOptions,
  toDriverParams,
} from "./gateway-store.ts";

/** Postgres type oids whose values must stay exact: int8 (BIGINT, BIGSERIAL) and numeric. */
const INT8 = 20;
const NUMERIC = 1700;
const asText = (value: string) => value;

/**
 * The gateway's store in PGlite: Postgres compiled to WebAssembly, in this process, its files in
 * `dataDir` (created when missing). One process per folder. PGlite has a single connection, so every
 * statement and transaction here takes turns: a transaction runs alone from BEGIN to COMMIT, and a
 * statement outside it waits for it (it would otherwise land inside the open transaction).
 */
export async function createPgliteStore(options: { dataDir: string }): Promise<GatewayStore> {
  mkdirSync(options.dataDir, { recursive: true });
  const db = await PGlite.create({ dataDir: options.dataDir, parsers: { [INT8]: asText, [NUMERIC]: asText } });
  let queue: Promise<unknown> = Promise.resolve();
  const inTransaction = new AsyncLocalStorage<true>();

  /** Runs `fn` after everything queued before it, whatever that did. */
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (inTransaction.getStore())
      return Promise.reject(
        new StorageError("A statement used the store inside its own transaction", {
          code: "internal_error",
          hint: "Inside transaction(fn) run every statement through the tx handed to fn",
        }),
      );
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  }

  const direct: StoreQueryable = {
    async query<T>(sql: string, params?: readonly StoreParam[]) {
      const result = await db.query<T>(sql, toDriverParams(params));
      return result.rows;
    },
    async exec(sql: string) {
      await db.exec(sql);
    },
  };

  let closed = false;
  return {
    kind: "pglite",
    query: (sql, params) => exclusive(() => direct.query(sql, params)),
    exec: (sql) => exclusive(() => direct.exec(sql)),
    transaction<T>(fn: (tx: StoreQueryable) => Promise<T>, opts: TransactionOptions = {}) {
      return exclusive(async () => {
        await db.exec(BEGIN[opts.isolation ?? "read committed"]);
        let result: T;
        try {
          result = await inTransaction.run(true, () => fn(direct));
        } catch (error) {
          await db.exec("ROLLBACK").catch(() => undefined);
          throw error;
        }
        await db.exec("COMMIT");
        return result;
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await queue;
      await db.close();
    },
  };
}
