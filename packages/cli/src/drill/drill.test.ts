/**
 * `npm run drill --json` end to end: the devnet as separate processes, every fault injected, one JSON
 * line per fault, and each one passed (exit code 0).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { DRILL_FAULTS } from "./drill-faults.ts";

const DRILL = fileURLToPath(new URL("./drill.ts", import.meta.url));

test("the fault drill survives every fault: kills, restarts and a hung upstream leave nothing owed unpaid", async () => {
  const child = spawn(process.execPath, [DRILL, "--json"], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += String(d);
  });
  child.stderr.on("data", (d) => {
    stderr += String(d);
  });
  const status = await new Promise<number | null>((resolve) => child.once("close", resolve));
  const rows = stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { fault: string; ok: boolean; detail: string; seen: string; mode: string });
  assert.deepEqual(
    rows.map((r) => r.fault),
    DRILL_FAULTS.map((f) => f.name),
    `one line per fault: ${stdout}${stderr}`,
  );
  for (const row of rows) assert.equal(row.ok, true, `${row.fault}: ${row.detail} (${row.seen})`);
  assert.ok(
    rows.every((r) => r.mode === rows[0]?.mode && r.mode !== ""),
    "each line names the gateway mode",
  );
  assert.equal(status, 0);
});

test("verity drill --help names the faults' options", async () => {
  const child = spawn(process.execPath, [DRILL, "--help"], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  child.stdout.on("data", (d) => {
    stdout += String(d);
  });
  const status = await new Promise<number | null>((resolve) => child.once("close", resolve));
  assert.equal(status, 0);
  for (const flag of ["--quick", "--json", "--dir"]) assert.ok(stdout.includes(flag), flag);
});
