import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, StorageError } from "@verity/core";
import type { GatewayStore } from "./gateway-store.ts";

/** The migrations this build of the gateway ships. */
export const GATEWAY_MIGRATIONS_DIR = fileURLToPath(new URL("../../migrations", import.meta.url));

/**
 * The key of the advisory lock every migrating replica takes (the first 63 bits of
 * sha256("verity-gateway-migrate")), held until its transaction ends.
 */
const MIGRATE_LOCK = "6372922812201340373";

export type Migration = { version: number; name: string; sql: string };

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** The `NNNN_name.sql` files of `dir` in version order; a duplicate version is refused. */
export function readMigrations(dir: string): Migration[] {
  const migrations = readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .map((file) => {
      const match = FILE.exec(file);
      if (!match)
        throw new ConfigError(`Migration file ${file} is not named NNNN_name.sql`, {
          code: "invalid_parameter",
          details: { dir, file },
        });
      return { version: Number(match[1]), name: match[2] as string, sql: readFileSync(join(dir, file), "utf8") };
    })
    .sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++)
    if (migrations[i]?.version === migrations[i - 1]?.version)
      throw new ConfigError(`Two migration files have version ${migrations[i]?.version}`, {
        code: "invalid_parameter",
        details: { dir },
      });
  return migrations;
}

export type MigrateResult = {
  /** Versions applied by this call, in order. */
  applied: number[];
  /** The highest version in the database afterwards. */
  version: number;
};

/**
 * Brings the database up to the migrations in `dir` (default: the gateway's own). Everything runs in
 * one transaction under `pg_advisory_xact_lock`, so replicas starting together take turns and the
 * second finds the work done; a failing migration leaves the database as it was. A database already
 * migrated past the newest file here belongs to a newer build: `database_schema_newer`, nothing
 * written.
 */
export async function migrate(options: { store: GatewayStore; dir?: string }): Promise<MigrateResult> {
  const migrations = readMigrations(options.dir ?? GATEWAY_MIGRATIONS_DIR);
  const known = migrations.at(-1)?.version ?? 0;
  return options.store.transaction(
    async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1::bigint)", [MIGRATE_LOCK]);
      await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
      )`);
      const rows = await tx.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version");
      const done = new Set(rows.map((r) => Number(r.version)));
      const newest = rows.length > 0 ? Number(rows.at(-1)?.version) : 0;
      if (newest > known)
        throw new StorageError(
          `The database is at schema version ${newest}, newer than this build's ${known}: this replica is older than the database; upgrade it`,
          {
            code: "database_schema_newer",
            hint: "Run the gateway release that migrated this database (or a later one)",
            details: { database: newest, known },
          },
        );
      const applied: number[] = [];
      for (const migration of migrations) {
        if (done.has(migration.version)) continue;
        await tx.exec(migration.sql);
        await tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [
          migration.version,
          migration.name,
        ]);
        applied.push(migration.version);
      }
      return { applied, version: Math.max(newest, known) };
    },
    { isolation: "read committed" },
  );
}
