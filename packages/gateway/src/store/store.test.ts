import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { BaseError, PaymentError } from "@verity/core";
import { type GatewayStore, type StoreIsolation, sqlState } from "./gateway-store.ts";
import { migrate } from "./migrate.ts";
import { openGatewayStore, PGLITE_FOLDER } from "./open-store.ts";
import { createPgliteStore } from "./pglite-store.ts";
import { createPostgresStore } from "./postgres-store.ts";
import { startTestPostgres } from "./postgres-testing.ts";

const scratch = mkdtempSync(join(tmpdir(), "verity-store-test-"));
const server = await startTestPostgres();
after(async () => {
  if ("url" in server) await server.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const stores: GatewayStore[] = [];
after(async () => {
  for (const store of stores) await store.close();
});
const keep = (store: GatewayStore) => {
  stores.push(store);
  return store;
};

let folders = 0;
const folder = () => join(scratch, `f${++folders}`);

/** A fresh PGlite database is an initdb in WebAssembly (seconds): made once, then copied. */
let template: Promise<string> | undefined;
function pgliteTemplate(): Promise<string> {
  template ??= (async () => {
    const stateDir = folder();
    const store = await openGatewayStore({ stateDir });
    assert.equal(store.kind, "pglite");
    await store.close();
    return join(stateDir, PGLITE_FOLDER);
  })();
  return template;
}

type Backend = {
  name: "pglite" | "postgres";
  skip?: string;
  /** A new, empty database and a store on it; `second` opens another store on the same database. */
  fresh(): Promise<{ store: GatewayStore; second(): Promise<GatewayStore>; reopen(): Promise<GatewayStore> }>;
};

const backends: Backend[] = [
  {
    name: "pglite",
    async fresh() {
      const dataDir = folder();
      cpSync(await pgliteTemplate(), dataDir, { recursive: true });
      const store = keep(await createPgliteStore({ dataDir }));
      return {
        store,
        // One process, one PGlite: the "second replica" is the same store, its work serialised.
        second: async () => store,
        async reopen() {
          await store.close();
          return keep(await createPgliteStore({ dataDir }));
        },
      };
    },
  },
  "url" in server
    ? {
        name: "postgres",
        async fresh() {
          const url = await server.createDatabase();
          const open = async () => keep(createPostgresStore({ url, max: 5 }));
          return { store: await open(), second: open, reopen: open };
        },
      }
    : { name: "postgres", skip: server.skip, fresh: () => Promise.reject(new Error(server.skip)) },
];

const codeOf = (error: unknown) => (error instanceof BaseError ? error.code : sqlState(error));

function migrations(files: Record<string, string>): string {
  const dir = folder();
  mkdirSync(dir);
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return dir;
}

/** Takes 1 from `owner`'s balance and records it, deciding on the balance it read. */
function debit(store: GatewayStore, args: { owner: string; ref: string; isolation: StoreIsolation }) {
  return store.transaction(
    async (tx) => {
      const lock = args.isolation === "read committed" ? " FOR UPDATE" : "";
      const [row] = await tx.query<{ balance: string }>(`SELECT balance FROM balances WHERE owner = $1${lock}`, [
        args.owner,
      ]);
      const balance = BigInt(row?.balance ?? "0");
      if (balance < 1n) throw new PaymentError("Balance exhausted", { code: "insufficient_balance" });
      // Writes the value computed here (not `balance - 1` in SQL): only the isolation keeps it right.
      await tx.query("UPDATE balances SET balance = $2 WHERE owner = $1", [args.owner, balance - 1n]);
      await tx.query("INSERT INTO ledger (owner, delta, reason, ref, created_at) VALUES ($1, $2, 'request', $3, $4)", [
        args.owner,
        -1n,
        args.ref,
        Date.now(),
      ]);
    },
    { isolation: args.isolation },
  );
}

for (const backend of backends) {
  const it = (name: string, fn: () => Promise<void>) =>
    test(`${backend.name}: ${name}`, async (t) => {
      if (backend.skip) return t.skip(backend.skip);
      await fn();
    });

  it("queries and bigint amounts round-trip, on disk across a reopen", async () => {
    const { store, reopen } = await backend.fresh();
    await migrate({ store });
    const uint256Max = 2n ** 256n - 1n;
    const above64 = 2n ** 64n + 12345n;
    await store.query("INSERT INTO balances (owner, balance) VALUES ($1, $2), ($3, $4)", [
      "0xaa",
      uint256Max,
      "0xbb",
      above64,
    ]);
    const rows = await store.query<{ owner: string; balance: string }>(
      "SELECT owner, balance FROM balances ORDER BY owner",
    );
    assert.deepEqual(rows, [
      { owner: "0xaa", balance: uint256Max.toString() },
      { owner: "0xbb", balance: above64.toString() },
    ]);
    const [sum] = await store.query<{ total: string }>("SELECT sum(balance) - $1 AS total FROM balances", [above64]);
    assert.equal(BigInt(sum?.total ?? ""), uint256Max);
    const bigintMax = 2n ** 63n - 1n;
    const [ledger] = await store.query<{ id: string; delta: string; created_at: string; ref: string | null }>(
      "INSERT INTO ledger (owner, delta, reason, ref, created_at) VALUES ($1, $2, 'deposit', NULL, $3) RETURNING *",
      ["0xaa", -above64, bigintMax],
    );
    assert.equal(typeof ledger?.id, "string");
    assert.equal(BigInt(ledger?.delta ?? ""), -above64);
    assert.equal(BigInt(ledger?.created_at ?? ""), bigintMax);
    assert.equal(ledger?.ref, null);
    await assert.rejects(
      store.query("INSERT INTO holds (owner, amount, replica, created_at) VALUES ($1, $2, 'r', 0)", ["0xcc", -1n]),
      (e) => sqlState(e) === "23514",
    );
    const again = await reopen();
    const [kept] = await again.query<{ balance: string }>("SELECT balance FROM balances WHERE owner = $1", ["0xaa"]);
    assert.equal(BigInt(kept?.balance ?? ""), uint256Max);
  });

  it("a transaction commits when its callback resolves and rolls back when it throws", async () => {
    const { store } = await backend.fresh();
    await store.exec("CREATE TABLE t (v TEXT PRIMARY KEY)");
    assert.equal(
      await store.transaction(async (tx) => {
        await tx.query("INSERT INTO t VALUES ($1)", ["kept"]);
        return 7;
      }),
      7,
    );
    const thrown = new Error("callback failed");
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.query("INSERT INTO t VALUES ($1)", ["dropped"]);
        throw thrown;
      }),
      (e) => e === thrown,
    );
    // A failing statement rolls back what the transaction did before it.
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.query("INSERT INTO t VALUES ($1)", ["dropped too"]);
        await tx.query("INSERT INTO t VALUES ($1)", ["kept"]);
      }),
      (e) => sqlState(e) === "23505",
    );
    assert.deepEqual(await store.query("SELECT v FROM t"), [{ v: "kept" }]);
  });

  it("migrate applies each file once, also when two replicas migrate at the same time", async () => {
    const { store, second } = await backend.fresh();
    const other = await second();
    const results = await Promise.all([migrate({ store }), migrate({ store: other })]);
    assert.deepEqual(results.map((r) => r.applied).sort(), [[], [1, 2, 3, 4]]);
    assert.deepEqual(await migrate({ store }), { applied: [], version: 4 });
    const applied = await store.query<{ version: number; name: string }>(
      "SELECT version, name FROM schema_migrations ORDER BY version",
    );
    assert.deepEqual(applied, [
      { version: 1, name: "initial" },
      { version: 2, name: "x402_batch_channels" },
      { version: 3, name: "key_limits" },
      { version: 4, name: "context_versions" },
    ]);
    const tables = await store.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    assert.deepEqual(
      tables.map((r) => r.table_name),
      [
        "api_keys",
        "balances",
        "context_versions",
        "deposit_blocks",
        "deposit_credits",
        "deposit_scan",
        "holds",
        "key_daily_spend",
        "key_nonce_secret",
        "key_nonces_used",
        "ledger",
        "paid_requests",
        "refund_credits",
        "schema_migrations",
        "x402_authorizations",
        "x402_batch_channels",
        "x402_settlements",
      ],
    );
  });

  it("a failing migration leaves nothing behind", async () => {
    const { store } = await backend.fresh();
    const dir = migrations({
      "0001_one.sql": "CREATE TABLE one (v INT);",
      "0002_bad.sql": "CREATE TABLE two (v INT); NOT SQL;",
    });
    await assert.rejects(migrate({ store, dir }), (e) => sqlState(e) === "42601");
    const tables = await store.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'");
    assert.deepEqual(tables, []);
  });

  it("a database migrated by a newer build is refused with database_schema_newer, nothing written", async () => {
    const { store } = await backend.fresh();
    const newer = migrations({
      "0001_first.sql": "CREATE TABLE first (v INT);",
      "0003_third.sql": "CREATE TABLE third (v INT);",
    });
    assert.deepEqual((await migrate({ store, dir: newer })).applied, [1, 3]);
    const older = migrations({
      "0001_first.sql": "CREATE TABLE first (v INT);",
      "0002_second.sql": "CREATE TABLE second (v INT);",
    });
    await assert.rejects(migrate({ store, dir: older }), (e) => {
      assert.equal(codeOf(e), "database_schema_newer");
      assert.match((e as Error).message, /this replica is older than the database; upgrade it/);
      return true;
    });
    const versions = await store.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version");
    assert.deepEqual(versions, [{ version: 1 }, { version: 3 }]);
    const second = await store.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'second'");
    assert.deepEqual(second, []);
  });

  for (const isolation of ["read committed", "serializable"] as const) {
    it(`two replicas debit one balance concurrently (${isolation}) and it never goes below zero`, async () => {
      const { store, second } = await backend.fresh();
      await migrate({ store });
      const replicas = [store, await second()];
      const owner = "0x00000000000000000000000000000000000000aa";
      await store.query("INSERT INTO balances (owner, balance) VALUES ($1, $2)", [owner, 30n]);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) =>
          debit(replicas[i % 2] as GatewayStore, { owner, ref: `request-${i}`, isolation }),
        ),
      );
      const succeeded = outcomes.filter((o) => o.status === "fulfilled").length;
      const failures = outcomes.flatMap((o) => (o.status === "rejected" ? [codeOf(o.reason)] : []));
      const [row] = await store.query<{ balance: string }>("SELECT balance FROM balances WHERE owner = $1", [owner]);
      const final = BigInt(row?.balance ?? "");
      const [ledger] = await store.query<{ entries: string; total: string | null }>(
        "SELECT count(*) AS entries, sum(delta) AS total FROM ledger WHERE owner = $1",
        [owner],
      );
      assert.ok(final >= 0n, `balance ${final}`);
      assert.equal(Number(ledger?.entries), succeeded);
      assert.equal(BigInt(ledger?.total ?? "0"), final - 30n, "the ledger records exactly the debits that happened");
      if (isolation === "read committed" || backend.name === "pglite") {
        // Row locks (or PGlite's one connection) make every debit wait its turn: all 30 units go.
        assert.equal(succeeded, 30);
        assert.equal(final, 0n);
        assert.deepEqual(new Set(failures), new Set(["insufficient_balance"]));
      } else {
        // Serializable: a debit that kept losing its retries fails with 40001 and debits nothing.
        for (const code of failures) assert.ok(code === "insufficient_balance" || code === "40001", String(code));
        assert.ok(succeeded > 0);
        assert.equal(succeeded + Number(final), 30);
      }
    });
  }
}

test("openGatewayStore: without --database, PGlite in the gateway's state folder", async () => {
  const dataDir = await pgliteTemplate();
  assert.ok(existsSync(join(dataDir, "PG_VERSION")));
  const stateDir = join(dataDir, "..");
  const store = keep(await openGatewayStore({ stateDir, database: "  " }));
  assert.equal(store.kind, "pglite");
});

test("openGatewayStore: an unreachable Postgres URL is database_unreachable naming --database, nothing written", async () => {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
  const stateDir = folder();
  for (const database of [`postgres://verity:secret@127.0.0.1:${port}/gateway`, `postgresql://127.0.0.1:${port}/x`]) {
    await assert.rejects(openGatewayStore({ database, stateDir, connectTimeoutMs: 5_000 }), (e) => {
      assert.equal(codeOf(e), "database_unreachable");
      assert.match((e as Error).message, /--database/);
      assert.doesNotMatch((e as Error).message, /secret/);
      return true;
    });
  }
  assert.equal(existsSync(stateDir), false);
});

test("openGatewayStore: a --database that is not a Postgres URL is invalid_parameter, nothing written", async () => {
  const stateDir = folder();
  for (const database of ["mysql://127.0.0.1/x", "gateway.db", "postgres://exa mple/x"]) {
    await assert.rejects(openGatewayStore({ database, stateDir }), (e) => codeOf(e) === "invalid_parameter");
  }
  assert.equal(existsSync(stateDir), false);
});

test("createPostgresStore: statements and transactions on a server that does not answer are database_unreachable", async () => {
  const store = createPostgresStore({ url: "postgres://verity@127.0.0.1:1/gateway", connectTimeoutMs: 5_000 });
  await assert.rejects(store.query("SELECT 1"), (e) => codeOf(e) === "database_unreachable");
  await assert.rejects(
    store.transaction(async (tx) => tx.query("SELECT 1")),
    (e) => codeOf(e) === "database_unreachable",
  );
  await store.close();
});

test("pglite: a committed transaction survives kill -9 of its process", async () => {
  const dataDir = folder();
  cpSync(await pgliteTemplate(), dataDir, { recursive: true });
  const child = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `const { createPgliteStore } = await import(${JSON.stringify(new URL("./pglite-store.ts", import.meta.url).href)});
       const store = await createPgliteStore({ dataDir: ${JSON.stringify(dataDir)} });
       await store.exec("CREATE TABLE k (v TEXT)");
       await store.transaction((tx) => tx.query("INSERT INTO k VALUES ($1)", ["committed"]));
       process.stdout.write("committed\\n");
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise((resolve) => child.once("exit", resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("committed") && resolve());
    child.once("exit", (code) => reject(new Error(`child exited (${code}) before committing`)));
  });
  child.kill("SIGKILL");
  await exited;
  const store = keep(await createPgliteStore({ dataDir }));
  assert.deepEqual(await store.query("SELECT v FROM k"), [{ v: "committed" }]);
});
