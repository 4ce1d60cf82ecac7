import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Listening, listen } from "@verity/chain";
import { Hono } from "hono";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { mountContextRoutes } from "../../../gateway/src/context-routes.ts";
import { createContextStore } from "../../../gateway/src/context-store.ts";
import type { GatewayStore } from "../../../gateway/src/store/index.ts";
import { openTestStore } from "../../../gateway/src/store/store-testing.ts";
import { runVerity } from "../cli-testing.ts";

let dir: string;
let store: GatewayStore;
let listening: Listening;
const key = generatePrivateKey();
const owner = privateKeyToAccount(key).address.toLowerCase();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "verity-context-cli-"));
  writeFileSync(join(dir, "me.key"), `${key}\n`, { mode: 0o600 });
  store = await openTestStore({ stateDir: join(dir, "gateway") });
  const app = new Hono();
  mountContextRoutes(app, { contexts: createContextStore({ store }) });
  listening = await listen({ fetch: (r) => app.fetch(r) });
});
after(async () => {
  await listening?.close();
  await store?.close();
});

const ctx = (n: number) => ({
  preferences: { language: "en" },
  facts: [{ text: `fact ${n}` }],
  summaries: [{ text: `summary ${n}` }],
});

test("context put, get and export against a gateway's store, then moved to a folder with only the key", async () => {
  const flags = ["--gateway", listening.url, "--key-file", join(dir, "me.key"), "--state-dir", join(dir, "state")];
  for (const n of [1, 2]) {
    writeFileSync(join(dir, `ctx${n}.json`), JSON.stringify(ctx(n)));
    const put = await runVerity(["context", "put", "--file", join(dir, `ctx${n}.json`), ...flags, "--json"]);
    assert.equal(put.status, 0, put.stderr);
    assert.deepEqual(
      [put.json[0]?.event, put.json[0]?.version, put.json[0]?.owner],
      ["context_stored", n, privateKeyToAccount(key).address],
    );
  }
  const got = await runVerity(["context", "get", ...flags, "--json"]);
  assert.equal(got.status, 0, got.stderr);
  assert.deepEqual(got.json[0]?.context, ctx(2));
  const v1 = await runVerity(["context", "get", "--at", "1", ...flags, "--json"]);
  assert.deepEqual(v1.json[0]?.context, ctx(1));
  const out = join(dir, "export.json");
  const exported = await runVerity(["context", "export", "--out", out, ...flags, "--json"]);
  assert.equal(exported.status, 0, exported.stderr);
  const bundle = JSON.parse(readFileSync(out, "utf8")) as { versions: unknown[]; context: unknown; owner: string };
  assert.equal(bundle.versions.length, 2);
  assert.deepEqual(bundle.context, ctx(2));
  // a folder store, written and read with the key alone
  const folderFlags = [
    "--dir",
    join(dir, "folder"),
    "--key-file",
    join(dir, "me.key"),
    "--state-dir",
    join(dir, "state2"),
  ];
  const put = await runVerity(["context", "put", "--file", join(dir, "ctx1.json"), ...folderFlags]);
  assert.equal(put.status, 0, put.stderr);
  assert.match(put.stdout, /Stored context version 1/);
  const read = await runVerity(["context", "get", ...folderFlags]);
  assert.match(read.stdout, /fact 1/);
});

test("a rollback by the store is refused by the CLI, which remembers the version it saw", async () => {
  const flags = ["--gateway", listening.url, "--key-file", join(dir, "me.key"), "--state-dir", join(dir, "state")];
  await store.query("DELETE FROM context_versions WHERE owner = $1 AND version = 2", [owner]);
  const got = await runVerity(["context", "get", ...flags, "--json"]);
  assert.equal(got.status, 1);
  assert.equal(got.json[0]?.code, "context_version_stale");
  const bad = await runVerity(["context", "put", "--file", join(dir, "nope.json"), ...flags, "--json"]);
  assert.equal(bad.json[0]?.code, "invalid_parameter");
  const nobody = await runVerity([
    "context",
    "get",
    "--gateway",
    "http://127.0.0.1:9",
    "--key-file",
    join(dir, "me.key"),
    "--state-dir",
    join(dir, "s3"),
    "--json",
  ]);
  assert.equal(nobody.json[0]?.code, "upstream_unreachable");
});
