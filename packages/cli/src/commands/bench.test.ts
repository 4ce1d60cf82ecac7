import assert from "node:assert/strict";
import { test } from "node:test";
import { runVerity } from "../cli-testing.ts";
import { benchmarkNames } from "./bench.ts";

test("bench lists the repository's benchmarks and refuses unknown names", async () => {
  const names = benchmarkNames();
  assert.ok(names.includes("route-decision") && names.includes("engine"));
  assert.ok(!names.includes("run"));
  const unknown = await runVerity(["bench", "--only", "route-decision,nope", "--json"]);
  assert.equal(unknown.status, 1);
  assert.equal(unknown.json[0]?.code, "invalid_parameter");
  assert.match(String(unknown.json[0]?.message), /No benchmark named nope.*route-decision/);
});

test("bench --only streams the chosen benchmark's JSON lines", async () => {
  const run = await runVerity(["bench", "--only", "route-decision", "--json"]);
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout.trim().split("\n");
  assert.ok(lines.length > 0);
  for (const line of lines) {
    const figure = JSON.parse(line) as { bench: string; metric: string; value: number; unit: string };
    assert.equal(figure.bench, "route-decision");
    assert.equal(typeof figure.value, "number");
  }
});
