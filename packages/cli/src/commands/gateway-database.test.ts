import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createPostgresStore } from "../../../gateway/src/store/postgres-store.ts";
import { startTestPostgres, type TestPostgres } from "../../../gateway/src/store/postgres-testing.ts";
import { runVerity, startTestNetwork, type TestNetwork } from "../cli-testing.ts";

let net: TestNetwork;
let postgres: TestPostgres | { skip: string };
before(async () => {
  net = await startTestNetwork();
  postgres = await startTestPostgres();
});
after(async () => {
  if ("url" in postgres) await postgres.stop();
  await net.close();
});

/** `verity gateway start` with `extra`, expected to stop before writing anything. */
async function refusedStart(name: string, extra: string[], env: Record<string, string> = {}) {
  const stateDir = join(net.dir, name);
  const run = await runVerity(
    [
      ...["gateway", "start", "--rpc", net.rpcUrl, "--deployment", net.deploymentFile, "--port", "0"],
      ...["--state-dir", stateDir, "--json", ...extra],
    ],
    { env: { VERITY_KEY: net.key("gateway"), ...env } },
  );
  assert.notEqual(run.status, 0, `${name}: exit status`);
  assert.equal(existsSync(stateDir), false, `${name}: nothing was written to the state folder`);
  return { ...run, text: run.stdout + run.stderr };
}

test("gateway start --database: an unreachable server or a non-Postgres URL stops the start, naming --database", async () => {
  const unreachable = await refusedStart("unreachable", ["--database", "postgres://verity:secret@127.0.0.1:1/gateway"]);
  assert.match(unreachable.text, /database_unreachable/);
  assert.match(unreachable.text, /--database/);
  assert.doesNotMatch(unreachable.text, /secret/, "the password is not printed");
  // VERITY_DATABASE reaches the flag through the configuration layer.
  const notPostgres = await refusedStart("not-postgres", [], { VERITY_DATABASE: "mysql://db/gateway" });
  assert.match(notPostgres.text, /invalid_parameter/);
  assert.match(notPostgres.text, /--database/);
});

test("gateway start --database: a database migrated by a newer build is refused and left as it was", async (t) => {
  if ("skip" in postgres) {
    t.skip(`Postgres not installed: ${postgres.skip}`);
    return;
  }
  const url = await postgres.createDatabase();
  const store = createPostgresStore({ url, max: 1 });
  await store.exec(
    "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
  );
  await store.query("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')");
  const newer = await refusedStart("newer", ["--database", url]);
  assert.match(newer.text, /database_schema_newer/);
  assert.match(newer.text, /--database postgres:\/\//);
  const tables = await store.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
  );
  assert.deepEqual(
    tables.map((r) => r.table_name),
    ["schema_migrations"],
  );
  await store.close();
});
