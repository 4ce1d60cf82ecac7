import assert from "node:assert/strict";
import { test } from "node:test";
import { createTrafficSeries, type TrafficSample } from "./traffic-series.ts";

const sample = (over: Partial<TrafficSample> = {}): TrafficSample => ({
  route: "chat",
  ok: true,
  model: "verity-tiny",
  agentId: "1",
  promptTokens: 10,
  completionTokens: 5,
  charged: 100n,
  ms: 20,
  ...over,
});

test("requests, tokens and charges land in 10 s buckets on one time axis with settled payments", () => {
  let now = 1_000_000_000;
  const series = createTrafficSeries({ now: () => now });
  series.record(sample());
  series.record(sample({ agentId: "2", completionTokens: 15 }));
  series.recordPaid(700n);
  now += 10_000;
  series.record({ route: "chat", ok: false, promptTokens: 0, completionTokens: 0, charged: 0n, ms: 5 });
  const points = series.points({ count: 3 });
  assert.deepEqual(
    points.map((p) => [p.t, p.requests, p.failed, p.tokens, p.charged, p.paid]),
    [
      [999_990_000, 0, 0, 0, "0", "0"],
      [1_000_000_000, 2, 0, 40, "200", "700"],
      [1_000_010_000, 0, 1, 0, "0", "0"],
    ],
  );
  assert.deepEqual(
    series.points({ count: 2, agentId: "2" }).map((p) => [p.requests, p.tokens]),
    [
      [1, 25],
      [0, 0],
    ],
  );
  assert.deepEqual(series.agent("1"), { requests: 1, failed: 0, tokens: 15, ms: 20 });
  assert.deepEqual(series.model("verity-tiny"), { requests: 2, tokens: 40 });
  assert.deepEqual({ ...series.totals(), since: 0 }, { requests: 2, failed: 1, tokens: 40, charged: "200", since: 0 });
});

test("rates average the last complete seconds, and buckets older than the ring read as empty", () => {
  let now = 5_000_000;
  const series = createTrafficSeries({ now: () => now, fineBuckets: 20, coarseBuckets: 4 });
  for (let s = 0; s < 10; s++) {
    series.record(sample({ promptTokens: 3, completionTokens: 7 }));
    series.record(sample({ promptTokens: 3, completionTokens: 7 }));
    now += 1_000;
  }
  assert.deepEqual(series.rates({ seconds: 10 }), { requestsPerSec: 2, tokensPerSec: 20 });
  now += 60_000; // the 4 coarse buckets (40 s) and the fine ring have all moved past the traffic
  assert.ok(series.points({ count: 4 }).every((p) => p.requests === 0));
  assert.deepEqual(series.rates(), { requestsPerSec: 0, tokensPerSec: 0 });
  assert.equal(series.totals().requests, 20, "totals keep counting past the ring");
});
