import assert from "node:assert/strict";
import { test } from "node:test";
import { promSum, proportion, seededRandom } from "./sim-stats.ts";

test("proportion: rate with a 95 % Wilson interval that contains it", () => {
  const none = proportion(0, 0);
  assert.deepEqual([none.rate, none.low, none.high], [null, 0, 1]);
  const zero = proportion(0, 1200);
  assert.equal(zero.rate, 0);
  assert.ok(zero.low < 1e-12);
  assert.ok(zero.high > 0.002 && zero.high < 0.004, `upper bound ${zero.high}`);
  const half = proportion(50, 100);
  assert.equal(half.rate, 0.5);
  assert.ok(half.low < 0.5 && half.high > 0.5 && Math.abs(0.5 - half.low - (half.high - 0.5)) < 1e-12);
});

test("promSum adds every labelled sample of one metric and nothing else", () => {
  const text = [
    "# HELP verity_provider_request_seconds Request latency",
    'verity_provider_request_seconds_sum{model="a",stream="false"} 1.5',
    'verity_provider_request_seconds_sum{model="b",stream="true"} 2.25',
    "verity_provider_request_seconds_count 7",
    "verity_provider_tokens_total 10",
  ].join("\n");
  assert.equal(promSum(text, "verity_provider_request_seconds_sum"), 3.75);
  assert.equal(promSum(text, "verity_provider_tokens_total"), 10);
  assert.equal(promSum(text, "missing"), 0);
});

test("seededRandom repeats for a seed and stays in [0, 1)", () => {
  const a = seededRandom(7);
  const b = seededRandom(7);
  const draws = Array.from({ length: 100 }, () => a());
  assert.deepEqual(
    draws,
    Array.from({ length: 100 }, () => b()),
  );
  assert.ok(draws.every((x) => x >= 0 && x < 1));
});
