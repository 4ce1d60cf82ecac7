import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_SPRT } from "../packages/validator/src/sprt.ts";
import {
  auditProbability,
  binomial,
  DEFAULT_ECONOMICS,
  perRequestRatio,
  runScenario,
  singleAuditDetection,
} from "./sim-economics.ts";
import { seededRandom } from "./sim-stats.ts";

test("audit probability rises with the charge and is 1 from alwaysAuditAbove", () => {
  const rule = { pBase: 0.02, alwaysAuditAbove: 1 };
  assert.equal(auditProbability({ charge: 0, ...rule }), 0.02);
  assert.equal(auditProbability({ charge: 0.5, ...rule }), 0.52);
  assert.equal(auditProbability({ charge: 1, ...rule }), 1);
  assert.equal(auditProbability({ charge: 5, ...rule }), 1);
});

test("binomial draws have the right mean", () => {
  const random = seededRandom(3);
  let sum = 0;
  for (let i = 0; i < 20_000; i++) sum += binomial(300, 0.01, random);
  assert.ok(Math.abs(sum / 20_000 - 3) < 0.05, String(sum / 20_000));
});

test("with the defaults cheating loses money and no honest provider is slashed", () => {
  const params = { ...DEFAULT_ECONOMICS, sprt: DEFAULT_SPRT, horizon: 2_000 };
  const random = seededRandom(1);
  for (const flipRate of [0.04, 0.01]) {
    const r = runScenario({
      params,
      scenario: { name: "c", flipRate, cheatRate: 1 },
      honestFlipRate: 1e-4,
      runs: 300,
      random,
    });
    assert.ok(r.meanLoss > r.meanGain, `${flipRate}: loss ${r.meanLoss} gain ${r.meanGain}`);
  }
  const honest = runScenario({
    params,
    scenario: { name: "h", flipRate: 1e-4, cheatRate: 0 },
    honestFlipRate: 1e-4,
    runs: 500,
    random,
  });
  assert.equal(honest.caught, 0);
  // alwaysAuditAbove < d·S deters every fee below d·S.
  const d = singleAuditDetection({ sprt: DEFAULT_SPRT, tokens: 300, flipRate: 0.04 });
  assert.ok(d >= 0.99);
  for (const { ratio } of perRequestRatio({ params, detection: d, fees: [1e-4, 0.01, 0.5, 1, 50] }))
    assert.ok(ratio > 1);
});
