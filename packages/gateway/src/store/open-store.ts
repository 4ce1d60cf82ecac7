import { join } from "node:path";
import { ConfigError, StorageError } from "@verity/core";
import { redactUrl, unreachableError } from "./database-unreachable.ts";
import type { GatewayStore } from "./gateway-store.ts";

/** Where the embedded database lives inside the gateway's state folder. */
export const PGLITE_FOLDER = "gateway-pglite";

const POSTGRES_URL = /^postgres(ql)?:\/\//i;

/**
 * Opens the gateway's store: a `postgres://` or `postgresql://` URL in `database` (the `--database`
 * flag) is a Postgres server shared by replicas, checked with one round trip before anything else
 * happens; without one the store is PGlite in `<stateDir>/gateway-pglite`. Any other `database`
 * value is refused (`invalid_parameter`), and an unreachable server is `database_unreachable`; in
 * both cases nothing is created or written.
 */
export async function openGatewayStore(options: {
  database?: string | undefined;
  stateDir: string;
  /** Pool size per replica (Postgres only). */
  max?: number;
  connectTimeoutMs?: number;
}): Promise<GatewayStore> {
  const database = options.database?.trim();
  // Each backend's driver is loaded only when it is used.
  if (!database) {
    const { createPgliteStore } = await import("./pglite-store.ts");
    return createPgliteStore({ dataDir: join(options.stateDir, PGLITE_FOLDER) });
  }
  if (!POSTGRES_URL.test(database) || !URL.canParse(database))
    throw new ConfigError(`--database ${redactUrl(database)} is not a Postgres URL`, {
      code: "invalid_parameter",
      hint: "Pass --database postgres://user:password@host:5432/dbname, or leave it out for the embedded database",
      details: { flag: "--database" },
    });
  const { createPostgresStore } = await import("./postgres-store.ts");
  const store = createPostgresStore({
    url: database,
    ...(options.max !== undefined ? { max: options.max } : {}),
    ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
  });
  try {
    await store.query("SELECT 1");
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error instanceof StorageError && error.code === "database_unreachable"
      ? error
      : unreachableError(database, error);
  }
  return store;
}
