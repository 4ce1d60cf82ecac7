import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { GatewayStore } from "./gateway-store.ts";
import { GATEWAY_MIGRATIONS_DIR, migrate, readMigrations } from "./migrate.ts";
import { PGLITE_FOLDER } from "./open-store.ts";
import { createPgliteStore } from "./pglite-store.ts";

/** Where migrated PGlite templates are kept between test processes (keyed by the migrations). */
function templatePath(): string {
  const hash = createHash("sha256");
  for (const m of readMigrations(GATEWAY_MIGRATIONS_DIR)) hash.update(`${m.version}:${m.sql}\n`);
  // The PGlite build too: its main file's path and size stand for its version.
  const pglite = fileURLToPath(import.meta.resolve("@electric-sql/pglite"));
  hash.update(`${pglite}:${statSync(pglite).size}`);
  return join(tmpdir(), `verity-gateway-pglite-${hash.digest("hex").slice(0, 16)}`);
}

let building: Promise<string> | undefined;

/**
 * A migrated, empty PGlite data folder to copy: an initdb in WebAssembly takes seconds, so it is made
 * once per machine and set of migrations (built aside, then renamed into place) and copied after.
 */
export function pgliteTemplate(): Promise<string> {
  building ??= (async () => {
    const path = templatePath();
    if (existsSync(join(path, "PG_VERSION"))) return path;
    const work = mkdtempSync(`${path}.build-`);
    const store = await createPgliteStore({ dataDir: work });
    await migrate({ store });
    await store.close();
    try {
      renameSync(work, path);
    } catch {
      rmSync(work, { recursive: true, force: true }); // another process got there first
    }
    return path;
  })();
  return building;
}

/**
 * A migrated gateway store for tests: PGlite in `<stateDir>/gateway-pglite` (where `createGateway`
 * looks for it), copied from the template. Reopening the same `stateDir` sees what was written.
 */
export async function openTestStore(options: { stateDir: string }): Promise<GatewayStore> {
  const dataDir = join(options.stateDir, PGLITE_FOLDER);
  if (!existsSync(join(dataDir, "PG_VERSION"))) cpSync(await pgliteTemplate(), dataDir, { recursive: true });
  return createPgliteStore({ dataDir });
}

/**
 * A new gateway state folder whose embedded database is already created and migrated (copied from
 * the template), so `createGateway({ stateDir })` in a test skips the seconds of initdb.
 */
export async function gatewayStateDir(prefix = "verity-gateway-"): Promise<string> {
  const stateDir = mkdtempSync(join(tmpdir(), prefix));
  cpSync(await pgliteTemplate(), join(stateDir, PGLITE_FOLDER), { recursive: true });
  return stateDir;
}
