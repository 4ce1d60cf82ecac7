import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { createGroupCommit } from "./group-commit.ts";
import { inTransaction, openDatabase } from "./sqlite.ts";

test("commits that arrive together share one flush; each resolves only after a flush that started after it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "verity-group-"));
  try {
    const path = join(dir, "db.sqlite");
    const db = openDatabase(path, { synchronous: "NORMAL" });
    db.exec("CREATE TABLE t (n INTEGER)");
    const group = createGroupCommit({ db, path });
    const insert = db.prepare("INSERT INTO t (n) VALUES (?)");
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      inTransaction(db, () => insert.run(i));
      pending.push(group.durable());
    }
    await Promise.all(pending);
    // The first commit starts a flush; the 49 that arrive while it runs share the next one.
    assert.equal(group.flushes, 2);
    inTransaction(db, () => insert.run(50));
    await group.durable();
    assert.equal(group.flushes, 3);
    group.close();
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a :memory: database resolves at once", async () => {
  const db = openDatabase(":memory:", { synchronous: "NORMAL" });
  const group = createGroupCommit({ db, path: ":memory:" });
  await group.durable();
  assert.equal(group.flushes, 0);
  db.close();
});

// A writer process that prints `acked <n>` only after durable(); killed with SIGKILL while it
// writes, every acknowledged row must be in the database when it is opened again.
const WRITER = `
  import { createGroupCommit, inTransaction, openDatabase } from ${JSON.stringify(new URL("./index.ts", import.meta.url).href)};
  const path = process.argv[1];
  const db = openDatabase(path, { synchronous: "NORMAL" });
  db.exec("CREATE TABLE IF NOT EXISTS t (n INTEGER PRIMARY KEY)");
  const group = createGroupCommit({ db, path });
  const insert = db.prepare("INSERT INTO t (n) VALUES (?)");
  let n = 0;
  for (;;) {
    const batch = [];
    for (let i = 0; i < 4; i++) {
      const id = n++;
      inTransaction(db, () => insert.run(id));
      batch.push(group.durable().then(() => process.stdout.write("acked " + id + "\\n")));
    }
    await Promise.all(batch);
  }
`;

test("kill -9 between commit and acknowledgement loses no acknowledged write", async () => {
  const dir = mkdtempSync(join(tmpdir(), "verity-group-kill-"));
  try {
    const path = join(dir, "db.sqlite");
    const child = spawn(process.execPath, ["--input-type=module", "-e", WRITER, path], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let acked = -1;
    await new Promise<void>((resolve) => {
      createInterface({ input: child.stdout }).on("line", (line) => {
        const n = Number(line.split(" ")[1]);
        if (n > acked) acked = n;
        if (acked >= 300 && !child.killed) {
          child.kill("SIGKILL");
          resolve();
        }
      });
    });
    await new Promise((r) => child.once("close", r));
    const db = openDatabase(path);
    const rows = db.prepare("SELECT n FROM t ORDER BY n").all() as { n: number }[];
    db.close();
    assert.ok(rows.length >= acked + 1, `${rows.length} rows, ${acked + 1} acknowledged`);
    for (let i = 0; i <= acked; i++) assert.equal(rows[i]?.n, i, `row ${i} acknowledged and present`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
