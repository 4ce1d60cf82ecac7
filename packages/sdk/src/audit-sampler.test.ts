import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import type { Hex } from "viem";
import { auditDraw, auditThreshold, createAuditSampler, shouldAudit } from "./audit-sampler.ts";

const hex = (bytes: number): Hex => `0x${randomBytes(bytes).toString("hex")}`;

test("the sampling rate over 10,000 signatures is within 5σ of p", () => {
  const secret = hex(32);
  for (const p of [0.02, 0.1, 0.5]) {
    const sampler = createAuditSampler({ secret, p });
    const n = 10_000;
    let sampled = 0;
    for (let i = 0; i < n; i++) if (sampler.sample(hex(65))) sampled++;
    const sigma = Math.sqrt(n * p * (1 - p));
    assert.ok(Math.abs(sampled - n * p) < 5 * sigma, `p=${p}: ${sampled} of ${n}, expected ${n * p} ± ${5 * sigma}`);
  }
});

test("the draw is deterministic per (signature, secret) and changes with the secret", () => {
  const signature = hex(65);
  const a = hex(32);
  const b = hex(32);
  assert.equal(auditDraw(signature, a), auditDraw(signature, a));
  assert.notEqual(auditDraw(signature, a), auditDraw(signature, b));
  const signatures = Array.from({ length: 2_000 }, () => hex(65));
  const first = signatures.map((s) => shouldAudit({ signature: s, secret: a, p: 0.3 }));
  assert.deepEqual(
    signatures.map((s) => shouldAudit({ signature: s, secret: a, p: 0.3 })),
    first,
  );
  // Another secret samples a different set: without the secret a provider cannot tell which answers are audited.
  const other = signatures.map((s) => shouldAudit({ signature: s, secret: b, p: 0.3 }));
  const both = first.filter((x, i) => x && other[i]).length;
  assert.ok(both < first.filter(Boolean).length * 0.5, `overlap ${both} should be about p² of the set`);
});

test("p = 0 never samples, p = 1 always does, and p outside [0, 1] is refused", () => {
  assert.equal(auditThreshold(0), 0n);
  assert.equal(auditThreshold(1), 1n << 256n);
  const secret = hex(32);
  for (let i = 0; i < 100; i++) {
    const signature = hex(65);
    assert.equal(shouldAudit({ signature, secret, p: 0 }), false);
    assert.equal(shouldAudit({ signature, secret, p: 1 }), true);
  }
  assert.throws(() => auditThreshold(1.5), { code: "invalid_parameter" });
  assert.throws(() => auditThreshold(Number.NaN), { code: "invalid_parameter" });
});
