import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { test } from "node:test";
import { createValidatorApp } from "./app.ts";
import { createAuditStore } from "./audit-store.ts";
import { createDisputeStore } from "./dispute-store.ts";
import { createValidatorMetrics } from "./metrics.ts";
import { createProviderEvidence } from "./provider-evidence.ts";
import { DEFAULT_SPRT } from "./sprt.ts";

test("GET /v1/providers/:agentId/evidence publishes the pooled test, its log head and tool-call quality", async () => {
  const db = new DatabaseSync(":memory:");
  const providerEvidence = createProviderEvidence(db);
  const id = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as const;
  const seeded = (flips: number) => ({ tokens: 300, flips, marginSum: flips, maxMargin: flips ? 1 : 0 });
  providerEvidence.record({ agentId: "3", id: id(1), pass: true, seeded: seeded(0), at: 1 });
  providerEvidence.record({
    agentId: "3",
    id: id(2),
    pass: true,
    seeded: seeded(3),
    toolCalls: {
      calls: 2,
      valid: 1,
      unscored: 0,
      checks: [{ name: "f", valid: false, reason: "tool_call_schema_violation" }],
    },
    at: 2,
  });
  const app = createValidatorApp({
    audits: createAuditStore(db),
    disputes: createDisputeStore(db),
    metrics: createValidatorMetrics(),
    providerEvidence,
    sprt: DEFAULT_SPRT,
    publicUrl: () => "http://validator.example",
    admit: () => Promise.reject(new Error("unused")),
    health: () => ({}),
    registration: () => ({}),
  });
  const response = await app.request("/v1/providers/3/evidence?log=1");
  assert.equal(response.status, 200);
  const body = (await response.json()) as {
    pooled: { logged: number; head: string; current: { ids: string[]; llr: number; decision: string }; upper: number };
    toolCalls: { calls: number; valid: number; score: number; reasons: Record<string, number> };
    log: { id: string; head: string }[];
  };
  assert.equal(body.pooled.logged, 2);
  assert.equal(body.pooled.head, body.log[1]?.head);
  assert.deepEqual(body.pooled.current.ids, [id(1), id(2)]);
  assert.equal(body.pooled.current.decision, "continue");
  assert.deepEqual(
    { calls: body.toolCalls.calls, valid: body.toolCalls.valid, score: body.toolCalls.score },
    { calls: 2, valid: 1, score: 0.5 },
  );
  // The ERC-8004 feedback for the smoothed score (1 + 1)/(2 + 2) = 50.00 %.
  const feedback = (body as unknown as { feedback: Record<string, unknown> }).feedback;
  assert.deepEqual(
    { value: feedback.value, valueDecimals: feedback.valueDecimals, tag1: feedback.tag1, uri: feedback.feedbackURI },
    { value: "5000", valueDecimals: 2, tag1: "tool_calls", uri: "http://validator.example/v1/providers/3/evidence" },
  );
  assert.equal((await app.request("/v1/providers/x/evidence")).status, 404);
});
