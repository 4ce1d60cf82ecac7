import assert from "node:assert/strict";
import { test } from "node:test";
import { judge } from "./audit-verdict.ts";
import { runCalibration } from "./calibrate-main.ts";
import { calibrationFileSchema, loadCalibration } from "./thresholds.ts";

test("calibration --quick produces thresholds consistent with the committed calibration", async () => {
  const committed = loadCalibration();
  assert.equal(committed.mode, "full");
  const { calibration, results } = await runCalibration({ quick: true });
  calibrationFileSchema.parse(calibration);
  assert.equal(calibration.mode, "quick");

  // The committed thresholds accept every honest quick transcript at every budget...
  for (const r of results.filter((r) => r.kind === "honest")) {
    for (const [budget, summary] of Object.entries(r.summaries)) {
      const verdict = judge(summary, committed.thresholds);
      assert.ok(verdict.pass, `honest #${r.id} at ${budget}: ${verdict.details.join("; ")}`);
    }
  }
  // ...and reject every grossly different one within 300 tokens.
  for (const r of results.filter((r) => r.kind === "sub" || r.kind === "random" || r.kind === "shuffled")) {
    assert.equal(judge(r.summaries[300]!, committed.thresholds).pass, false, `${r.kind} #${r.id}`);
  }

  // The quick thresholds are of the same kind: same rule structure, comparable values.
  const q = calibration.thresholds;
  const c = committed.thresholds;
  assert.equal(q.greedy.maxFlips, c.greedy.maxFlips);
  assert.equal(q.sampled.maxOutsideNucleus, c.sampled.maxOutsideNucleus);
  assert.ok(q.greedy.tieMargin < 0.5 && c.greedy.tieMargin < 0.5);
  assert.ok(q.sampled.nucleusTolerance < 0.05 && c.sampled.nucleusTolerance < 0.05);
  assert.ok(Math.abs(q.sampled.zMin - c.sampled.zMin) < 2, `zMin ${q.sampled.zMin} vs ${c.sampled.zMin}`);
  assert.ok(Math.abs(q.sampled.zMax - c.sampled.zMax) < 2, `zMax ${q.sampled.zMax} vs ${c.sampled.zMax}`);
  // And the committed file's measured rates are there for every budget and substitute kind.
  for (const budget of ["32", "100", "300"]) {
    for (const kind of ["honest", "sub", "q4", "q8", "random", "shuffled"]) {
      assert.ok(committed.rates[budget]?.[kind], `${kind} at ${budget}`);
    }
  }
});
