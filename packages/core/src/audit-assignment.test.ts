import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import fc from "fast-check";
import { encodePacked, hexToBigInt, keccak256 } from "viem";
import { auditDraw, auditProbability, auditThreshold, isAuditSelected } from "./audit-assignment.ts";

const TWO_256 = 1n << 256n;
const hex32 = () => `0x${randomBytes(32).toString("hex")}` as const;

test("the draw is keccak256 of the packed domain, secret and receipt digest", () => {
  const auditSecret = hex32();
  const receiptDigest = hex32();
  assert.equal(
    auditDraw({ auditSecret, receiptDigest }),
    hexToBigInt(
      keccak256(encodePacked(["string", "bytes32", "bytes32"], ["verity.audit.v1", auditSecret, receiptDigest])),
    ),
  );
});

test("p(charge) = min(1, pBase + charge / alwaysAuditAbove), exact at the threshold", () => {
  assert.equal(auditThreshold({ pBase: 0 }), 0n);
  assert.equal(auditThreshold({ pBase: 1 }), TWO_256);
  assert.equal(auditThreshold({ pBase: 0.5 }), TWO_256 / 2n);
  const policy = { pBase: 0.02, alwaysAuditAbove: 1_000_000n };
  assert.equal(auditProbability({ ...policy, charge: 0n }), 0.02);
  assert.equal(auditProbability({ ...policy, charge: 250_000n }), 0.27);
  assert.equal(auditThreshold({ ...policy, charge: 900_000n }) < TWO_256, true);
  assert.equal(auditThreshold({ ...policy, charge: 980_000n }), TWO_256);
  assert.equal(auditThreshold({ ...policy, charge: 1_000_000n }), TWO_256);
  assert.equal(auditThreshold({ ...policy, charge: 10n ** 30n }), TWO_256);
  assert.throws(() => auditThreshold({ pBase: 1.5 }), { code: "invalid_parameter" });
  assert.throws(() => auditThreshold({ pBase: Number.NaN }), { code: "invalid_parameter" });
  assert.throws(() => auditThreshold({ pBase: 0.1, alwaysAuditAbove: 0n }), { code: "invalid_parameter" });
});

test("a request charging at least alwaysAuditAbove is always audited, whatever the secret and digest", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.bigInt({ min: 1n, max: 10n ** 12n }),
      fc.bigInt({ min: 0n, max: 10n ** 12n }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (secret, digest, alwaysAuditAbove, over, pBase) => {
        const auditSecret = `0x${Buffer.from(secret).toString("hex")}`;
        const receiptDigest = `0x${Buffer.from(digest).toString("hex")}`;
        assert.equal(
          isAuditSelected({ pBase, alwaysAuditAbove, auditSecret, receiptDigest, charge: alwaysAuditAbove + over }),
          true,
        );
      },
    ),
    { numRuns: 300 },
  );
});

test("the selection rate matches p(charge) for any policy (within 5σ over 4,000 receipts)", () => {
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.bigInt({ min: 0n, max: 2_000n }),
      fc.bigInt({ min: 1n, max: 10_000n }),
      (pBase, charge, alwaysAuditAbove) => {
        const auditSecret = hex32();
        const p = auditProbability({ pBase, alwaysAuditAbove, charge });
        const n = 4_000;
        let selected = 0;
        for (let i = 0; i < n; i++) {
          if (isAuditSelected({ pBase, alwaysAuditAbove, auditSecret, receiptDigest: hex32(), charge })) selected++;
        }
        const sigma = Math.sqrt(n * p * (1 - p));
        assert.ok(Math.abs(selected - n * p) <= 5 * sigma + 1, `p=${p}: ${selected} of ${n}`);
      },
    ),
    { numRuns: 20 },
  );
});
