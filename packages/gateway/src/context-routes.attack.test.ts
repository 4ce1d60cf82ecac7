/**
 * The gateway's context store over real HTTP and a real (PGlite) store, attacked from both sides: a
 * writer that is not the owner, a stale or forked version, a blob that does not match, two writers
 * racing; and a store that rolls back, alters or forks what it serves, caught by the SDK client.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Listening, listen } from "@verity/chain";
import { contextContentAddress, signContextVersion, ZERO_HASH } from "@verity/core";
import {
  createContextClient,
  createFolderContextBackend,
  createHttpContextBackend,
  deriveContextKey,
  encryptContext,
  storedToJson,
  type UserContext,
} from "@verity/sdk";
import { Hono } from "hono";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { mountContextRoutes } from "./context-routes.ts";
import { createContextStore } from "./context-store.ts";
import { type GatewayStore, migrate } from "./store/index.ts";
import { createPostgresStore } from "./store/postgres-store.ts";
import { startTestPostgres } from "./store/postgres-testing.ts";
import { openTestStore } from "./store/store-testing.ts";

type ContextGateway = { url: string; store: GatewayStore; close(): Promise<void> };

async function startContextGateway(maxBytes?: number, shared?: GatewayStore): Promise<ContextGateway> {
  const store = shared ?? (await openTestStore({ stateDir: mkdtempSync(join(tmpdir(), "verity-context-")) }));
  const app = new Hono();
  mountContextRoutes(app, { contexts: createContextStore({ store, ...(maxBytes ? { maxBytes } : {}) }) });
  const listening: Listening = await listen({ fetch: (r) => app.fetch(r) });
  return {
    url: listening.url,
    store,
    async close() {
      await listening.close();
      await store.close();
    },
  };
}

const SECRET = "allergic to penicillin; lives in Lisbon";
const context = (n: number): UserContext => ({
  preferences: { language: "Portuguese", tone: "brief" },
  facts: [{ text: SECRET, tags: ["health"] }],
  summaries: [{ title: `talk ${n}`, text: `summary number ${n}` }],
});

async function put(url: string, owner: string, body: unknown): Promise<{ status: number; code?: string }> {
  const res = await fetch(`${url}/v1/context/${owner}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { error?: { code: string } };
  return { status: res.status, ...(json.error ? { code: json.error.code } : {}) };
}

/** A version signed by `signer` over `blob` (a raw write, bypassing the client). */
async function signedVersion(args: {
  signerKey: `0x${string}`;
  owner: `0x${string}`;
  version: number;
  previous: `0x${string}`;
  blob: Uint8Array;
  content?: `0x${string}`;
}) {
  const signer = privateKeyToAccount(args.signerKey);
  const record = {
    owner: args.owner,
    version: args.version,
    content: args.content ?? contextContentAddress({ blob: args.blob }),
    previous: args.previous,
  };
  // signContextVersion refuses a signer that is not the owner; sign the typed data directly then
  const signature =
    signer.address === args.owner
      ? (await signContextVersion({ account: signer, record })).signature
      : await signer.signTypedData({
          domain: { name: "Verity Context", version: "1" },
          types: {
            ContextVersion: [
              { name: "owner", type: "address" },
              { name: "version", type: "uint64" },
              { name: "content", type: "bytes32" },
              { name: "previous", type: "bytes32" },
            ],
          },
          primaryType: "ContextVersion",
          message: { ...record, version: BigInt(record.version) },
        });
  return storedToJson({ record: { ...record, signature }, blob: args.blob });
}

describe("context store on the gateway", () => {
  let gw: ContextGateway;
  let gw2: ContextGateway;
  const userKey = generatePrivateKey();
  const owner = privateKeyToAccount(userKey).address;

  before(async () => {
    gw = await startContextGateway();
    gw2 = await startContextGateway();
  });
  after(async () => {
    await gw.close();
    await gw2.close();
  });

  test("the gateway stores the blob but cannot read it: no plaintext, no key, anywhere server-side", async () => {
    const client = createContextClient({ privateKey: userKey, backend: createHttpContextBackend({ url: gw.url }) });
    const v1 = await client.put(context(1));
    assert.equal(v1.version, 1);
    assert.equal((v1.size - 32) % 1024, 0, "padded to whole KiB (plus magic, nonce and tag)");
    const got = await client.get();
    assert.deepEqual(got?.context, context(1));
    // everything the store holds for this owner, as text: no plaintext, no key, no derived key
    const rows = await gw.store.query<Record<string, unknown>>("SELECT * FROM context_versions WHERE owner = $1", [
      owner.toLowerCase(),
    ]);
    assert.equal(rows.length, 1);
    const blob = Buffer.from(rows[0]?.blob as Uint8Array);
    const dump = `${JSON.stringify(rows, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v))}${blob.toString("latin1")}${blob.toString("utf8")}`;
    for (const secret of [
      SECRET,
      "Lisbon",
      "Portuguese",
      "summary number",
      userKey.slice(2),
      Buffer.from(deriveContextKey({ privateKey: userKey })).toString("hex"),
      Buffer.from(deriveContextKey({ privateKey: userKey })).toString("base64"),
    ]) {
      assert.ok(!dump.includes(secret), `the store must not hold ${secret.slice(0, 12)}…`);
    }
    // the wire form the gateway serves is the same ciphertext
    const served = (await (await fetch(`${gw.url}/v1/context/${owner}`)).json()) as { blob: string };
    assert.ok(!Buffer.from(served.blob, "base64").toString("latin1").includes("Lisbon"));
  });

  test("a version signed by another key is refused context_signature_invalid", async () => {
    const latest = (await (await fetch(`${gw.url}/v1/context/${owner}`)).json()) as {
      record: { version: number };
    };
    const blob = encryptContext({ key: deriveContextKey({ privateKey: userKey }), owner, version: 2, plaintext: "{}" });
    const forged = await signedVersion({
      signerKey: generatePrivateKey(),
      owner,
      version: latest.record.version + 1,
      previous: ZERO_HASH,
      blob,
    });
    assert.deepEqual(await put(gw.url, owner, forged), { status: 401, code: "context_signature_invalid" });
    // a valid version of someone else's context PUT under this owner's path
    const otherKey = generatePrivateKey();
    const other = privateKeyToAccount(otherKey).address;
    const theirs = await signedVersion({ signerKey: otherKey, owner: other, version: 1, previous: ZERO_HASH, blob });
    assert.deepEqual(await put(gw.url, owner, theirs), { status: 401, code: "context_signature_invalid" });
  });

  test("stale, gapped, forked and altered versions are refused", async () => {
    const client = createContextClient({ privateKey: userKey, backend: createHttpContextBackend({ url: gw.url }) });
    const v2 = await client.put(context(2));
    const blob = encryptContext({ key: deriveContextKey({ privateKey: userKey }), owner, version: 3, plaintext: "{}" });
    // replaying version 1 (or writing version 2 again): stale
    const replay = await signedVersion({ signerKey: userKey, owner, version: 2, previous: ZERO_HASH, blob });
    assert.deepEqual(await put(gw.url, owner, replay), { status: 409, code: "context_version_stale" });
    // a gap, or version 3 not over version 2's record: chain broken
    const gap = await signedVersion({ signerKey: userKey, owner, version: 4, previous: v2.recordHash, blob });
    assert.deepEqual(await put(gw.url, owner, gap), { status: 409, code: "context_chain_broken" });
    const fork = await signedVersion({ signerKey: userKey, owner, version: 3, previous: ZERO_HASH, blob });
    assert.deepEqual(await put(gw.url, owner, fork), { status: 409, code: "context_chain_broken" });
    // a blob that is not the content signed
    const altered = await signedVersion({ signerKey: userKey, owner, version: 3, previous: v2.recordHash, blob });
    altered.blob = Buffer.from(blob.map((b, i) => (i === 40 ? b ^ 1 : b))).toString("base64");
    assert.deepEqual(await put(gw.url, owner, altered), { status: 422, code: "context_content_mismatch" });
    assert.equal((await client.get())?.version.version, 2, "nothing refused was stored");
  });

  test("two concurrent PUTs of the same next version: exactly one is stored", async () => {
    const client = createContextClient({ privateKey: userKey, backend: createHttpContextBackend({ url: gw.url }) });
    const latest = await client.get();
    assert.ok(latest);
    const next = latest.version.version + 1;
    const key = deriveContextKey({ privateKey: userKey });
    const bodies = await Promise.all(
      ["a", "b", "c", "d"].map(async (tag) =>
        signedVersion({
          signerKey: userKey,
          owner,
          version: next,
          previous: latest.version.recordHash,
          blob: encryptContext({
            key,
            owner,
            version: next,
            plaintext: JSON.stringify({ ...context(next), preferences: { tag } }),
          }),
        }),
      ),
    );
    const results = await Promise.all(bodies.map((b) => put(gw.url, owner, b)));
    assert.equal(results.filter((r) => r.status === 201).length, 1, JSON.stringify(results));
    assert.deepEqual(
      results.filter((r) => r.status !== 201),
      Array(3).fill({ status: 409, code: "context_version_stale" }),
    );
    const stored = await gw.store.query("SELECT version FROM context_versions WHERE owner = $1 AND version = $2", [
      owner.toLowerCase(),
      next,
    ]);
    assert.equal(stored.length, 1);
  });

  test("a store that rolls back, alters or forks what it serves is caught by the client", async () => {
    const stateFile = join(mkdtempSync(join(tmpdir(), "verity-context-seen-")), "seen.json");
    const client = createContextClient({
      privateKey: userKey,
      backend: createHttpContextBackend({ url: gw.url }),
      stateFile,
    });
    const latest = await client.put(context(9));
    // rollback: the gateway drops its latest version (serves the older, validly signed one)
    await gw.store.query("DELETE FROM context_versions WHERE owner = $1 AND version = $2", [
      owner.toLowerCase(),
      latest.version,
    ]);
    // a restarted client remembers what it saw through its state file
    const restarted = createContextClient({
      privateKey: userKey,
      backend: createHttpContextBackend({ url: gw.url }),
      stateFile,
    });
    await assert.rejects(restarted.get(), { code: "context_version_stale" });
    // altering the blob of the version it now serves: the content no longer matches
    await gw.store.query("UPDATE context_versions SET blob = $3 WHERE owner = $1 AND version = $2", [
      owner.toLowerCase(),
      latest.version - 1,
      new Uint8Array(2048),
    ]);
    const fresh = createContextClient({ privateKey: userKey, backend: createHttpContextBackend({ url: gw.url }) });
    await assert.rejects(fresh.get(), { code: "context_content_mismatch" });
    // a fork: the store swaps in another validly signed chain (an older write it kept) above the version seen
    const forkDir = mkdtempSync(join(tmpdir(), "verity-context-fork-"));
    const forker = createContextClient({ privateKey: userKey, backend: createFolderContextBackend({ dir: forkDir }) });
    for (let i = 1; i <= latest.version + 1; i++) await forker.put(context(100 + i));
    await gw.store.query("DELETE FROM context_versions WHERE owner = $1", [owner.toLowerCase()]);
    const chain = await forker.export();
    const gwBackend = createHttpContextBackend({ url: gw.url });
    for (const v of chain.versions) await put(gw.url, owner, v);
    await assert.rejects(restarted.get(), { code: "context_chain_broken" });
    // a client that never saw the old chain takes the new one (nothing to compare with)
    const newcomer = createContextClient({ privateKey: userKey, backend: gwBackend });
    assert.equal((await newcomer.get())?.version.version, latest.version + 1);
  });

  test("moving to a folder and to a second gateway needs nothing but the key", async () => {
    const key = generatePrivateKey();
    const first = createContextClient({ privateKey: key, backend: createHttpContextBackend({ url: gw.url }) });
    await first.put(context(1));
    await first.put(context(2));
    const bundle = await first.export();
    assert.equal(bundle.versions.length, 2);
    // only the key: a new machine reads it from the first gateway, copies it to a folder and a second gateway
    const folder = createContextClient({
      privateKey: key,
      backend: createFolderContextBackend({ dir: mkdtempSync(join(tmpdir(), "verity-context-move-")) }),
    });
    assert.deepEqual(await folder.import(bundle), { imported: 2 });
    assert.deepEqual((await folder.get())?.context, context(2));
    const second = createContextClient({ privateKey: key, backend: createHttpContextBackend({ url: gw2.url }) });
    assert.deepEqual(await second.import(await folder.export()), { imported: 2 });
    const elsewhere = createContextClient({ privateKey: key, backend: createHttpContextBackend({ url: gw2.url }) });
    assert.deepEqual((await elsewhere.get())?.context, context(2));
    // the chain continues on the second gateway: version 3 over version 2's record
    assert.equal((await elsewhere.put(context(3))).version, 3);
    assert.deepEqual((await elsewhere.get({ version: 1 }))?.context, context(1));
    // another key reads nothing it can open
    const stranger = createContextClient({
      privateKey: generatePrivateKey(),
      backend: createHttpContextBackend({ url: gw2.url }),
    });
    assert.equal(await stranger.get(), undefined);
  });

  test("unknown owners and versions are context_not_found; an oversized blob context_too_large", async () => {
    const nobody = privateKeyToAccount(generatePrivateKey()).address;
    const res = await fetch(`${gw.url}/v1/context/${nobody}`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, "context_not_found");
    const v = await fetch(`${gw.url}/v1/context/${owner}/999`);
    assert.equal(v.status, 404);
    const small = await startContextGateway(2048);
    try {
      const key = generatePrivateKey();
      const client = createContextClient({ privateKey: key, backend: createHttpContextBackend({ url: small.url }) });
      await client.put(context(1));
      const big = { ...context(2), facts: [{ text: "x".repeat(2000) }] };
      await assert.rejects(client.put(big), { code: "context_too_large" });
      // a body far above the limit is refused before it is read
      const huge = await signedVersion({
        signerKey: key,
        owner: privateKeyToAccount(key).address,
        version: 2,
        previous: ZERO_HASH,
        blob: new Uint8Array(64 * 1024),
      });
      assert.deepEqual(await put(small.url, privateKeyToAccount(key).address, huge), {
        status: 413,
        code: "context_too_large",
      });
    } finally {
      await small.close();
    }
  });
});

describe("context store on Postgres, shared by two gateway replicas", async () => {
  const server = await startTestPostgres();
  const skip = "url" in server ? false : server.skip;
  let replicas: ContextGateway[] = [];
  before(async () => {
    if (!("url" in server)) return;
    const url = await server.createDatabase();
    const stores = [createPostgresStore({ url, max: 5 }), createPostgresStore({ url, max: 5 })];
    await migrate({ store: stores[0] as GatewayStore });
    replicas = await Promise.all(stores.map((store) => startContextGateway(undefined, store)));
  });
  after(async () => {
    for (const r of replicas) await r.close();
    if ("url" in server) await server.stop();
  });

  test("concurrent PUTs of one version through both replicas: exactly one is stored, and it reads back", {
    skip,
  }, async () => {
    const userKey = generatePrivateKey();
    const owner = privateKeyToAccount(userKey).address;
    const [a, b] = replicas as [ContextGateway, ContextGateway];
    const client = createContextClient({ privateKey: userKey, backend: createHttpContextBackend({ url: a.url }) });
    const v1 = await client.put(context(1));
    const key = deriveContextKey({ privateKey: userKey });
    const bodies = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((i) =>
        signedVersion({
          signerKey: userKey,
          owner,
          version: 2,
          previous: v1.recordHash,
          blob: encryptContext({
            key,
            owner,
            version: 2,
            plaintext: JSON.stringify({ ...context(2), preferences: { i } }),
          }),
        }),
      ),
    );
    const results = await Promise.all(bodies.map((body, i) => put((i % 2 === 0 ? a : b).url, owner, body)));
    assert.equal(results.filter((r) => r.status === 201).length, 1, JSON.stringify(results));
    assert.ok(
      results.every((r) => r.status === 201 || r.code === "context_version_stale"),
      JSON.stringify(results),
    );
    const onB = createContextClient({ privateKey: userKey, backend: createHttpContextBackend({ url: b.url }) });
    const got = await onB.get();
    assert.equal(got?.version.version, 2);
  });
});
