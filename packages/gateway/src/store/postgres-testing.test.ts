import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import pg from "pg";
import { findPostgresBin, startTestPostgres } from "./postgres-testing.ts";

test("without Postgres binaries the test server is a skip reason that says so", async () => {
  const empty = mkdtempSync(join(tmpdir(), "verity-no-pg-"));
  try {
    assert.equal(findPostgresBin({ path: empty, libRoot: join(empty, "none") }), undefined);
    const result = await startTestPostgres({ path: empty, libRoot: join(empty, "none") });
    assert.ok("skip" in result);
    assert.match(result.skip, /^Postgres not installed: /);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test("the test server is a real Postgres with a database per test, gone after stop", async (t) => {
  const server = await startTestPostgres();
  if ("skip" in server) return t.skip(server.skip);
  const url = await server.createDatabase();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ db: string; version: string }>(
    "SELECT current_database() AS db, current_setting('server_version_num') AS version",
  );
  await client.end();
  assert.equal(rows[0]?.db, new URL(url).pathname.slice(1));
  assert.ok(Number(rows[0]?.version) >= 130000);
  await server.stop();
  const after = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await assert.rejects(after.connect());
});
