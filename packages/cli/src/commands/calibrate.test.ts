import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { calibrationFileSchema } from "@verity/validator";

const bin = fileURLToPath(new URL("../bin.ts", import.meta.url));
const verity = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 300_000 });

test("verity calibrate writes calibration.json with progress lines (tiny corpus)", () => {
  const out = join(mkdtempSync(join(tmpdir(), "verity-calibrate-")), "calibration.json");
  const run = verity(["calibrate", "--honest", "4", "--substitutes", "1", "--workers", "1", "--out", out, "--json"]);
  assert.equal(run.status, 0, run.stderr + run.stdout);
  const lines = run.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const progress = lines.filter((l) => l.event === "progress");
  assert.equal(progress.at(-1)?.done, 9);
  assert.equal(progress.at(-1)?.total, 9);
  const done = lines.at(-1);
  assert.equal(done?.event, "calibrated");
  assert.equal(done?.out, out);
  const file = calibrationFileSchema.parse(JSON.parse(readFileSync(out, "utf8")));
  assert.equal(file.mode, "quick");
  assert.ok(file.rates["300"]?.q4);
  assert.match(readFileSync(out.replace(/\.json$/, ".md"), "utf8"), /# Audit verdict calibration/);
});

test("verity calibrate refuses a small run without --out (the committed file stays)", () => {
  const run = verity(["calibrate", "--quick", "--json"]);
  assert.equal(run.status, 1);
  assert.equal((JSON.parse(run.stdout.trim()) as { code: string }).code, "invalid_parameter");
});
