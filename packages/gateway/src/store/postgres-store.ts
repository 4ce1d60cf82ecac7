import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { isUnreachable, unreachableError } from "./database-unreachable.ts";
import {
  BEGIN,
  type GatewayStore,
  type StoreParam,
  type StoreQueryable,
  sqlState,
  type TransactionOptions,
  toDriverParams,
} from "./gateway-store.ts";

/** Serialization failure and deadlock: the transaction did nothing and can run again. */
const RETRYABLE = new Set(["40001", "40P01"]);

/**
 * The gateway's store on a Postgres server through a `pg.Pool` of `max` connections (default 10):
 * what several gateway replicas share. A transaction runs on one checked-out connection from
 * `BEGIN ISOLATION LEVEL …` to COMMIT; one that fails with a serialization failure or deadlock is
 * rolled back and run again, up to `attempts` times (default 8), after a random pause that grows.
 */
export function createPostgresStore(options: {
  url: string;
  max?: number;
  attempts?: number;
  connectTimeoutMs?: number;
}): GatewayStore {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
  });
  // An idle connection the server dropped: the pool discards it and the next checkout reconnects.
  pool.on("error", () => undefined);
  const attempts = options.attempts ?? 8;
  const wrap = (error: unknown): unknown => (isUnreachable(error) ? unreachableError(options.url, error) : error);

  const on = (client: pg.Pool | pg.PoolClient): StoreQueryable => ({
    async query<T>(sql: string, params?: readonly StoreParam[]) {
      try {
        const result = await client.query(sql, toDriverParams(params));
        return result.rows as T[];
      } catch (error) {
        throw wrap(error);
      }
    },
    async exec(sql: string) {
      try {
        await client.query(sql);
      } catch (error) {
        throw wrap(error);
      }
    },
  });

  async function once<T>(fn: (tx: StoreQueryable) => Promise<T>, isolation: string): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw wrap(error);
    }
    let broken: Error | undefined;
    try {
      await client.query(isolation);
      try {
        const result = await fn(on(client));
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch((rollbackError: Error) => {
          broken = rollbackError;
        });
        throw error;
      }
    } catch (error) {
      if (isUnreachable(error)) broken ??= error as Error;
      throw wrap(error);
    } finally {
      client.release(broken);
    }
  }

  let closed = false;
  return {
    kind: "postgres",
    ...on(pool),
    async transaction<T>(fn: (tx: StoreQueryable) => Promise<T>, opts: TransactionOptions = {}) {
      const begin = BEGIN[opts.isolation ?? "read committed"];
      for (let attempt = 1; ; attempt++) {
        try {
          return await once(fn, begin);
        } catch (error) {
          const state = sqlState(error);
          if (attempt >= attempts || state === undefined || !RETRYABLE.has(state)) throw error;
          await sleep(Math.random() * 5 * 2 ** Math.min(attempt, 6));
        }
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
