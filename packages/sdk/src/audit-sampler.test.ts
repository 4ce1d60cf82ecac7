import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { auditCommitOf, auditDraw, auditThreshold, deriveSeedKey, type SignedReceiptJson } from "@verity/core";
import fc from "fast-check";
import { hexToBigInt } from "viem";
import { createAuditSampler, receiptDigestOf } from "./audit-sampler.ts";

const hex = (bytes: number) => `0x${randomBytes(bytes).toString("hex")}` as `0x${string}`;
const chainId = 31337;
const paymentChannels = "0x00000000000000000000000000000000000000cc";

function receipt(charge: bigint, channelId: `0x${string}`): SignedReceiptJson {
  return {
    receipt: {
      requestId: hex(32),
      channelId,
      modelId: "1",
      promptHash: hex(32),
      outputHash: hex(32),
      paramsHash: hex(32),
      promptTokens: 10,
      completionTokens: 20,
      charge: charge.toString(),
      cumulativeCharged: charge.toString(),
      timestamp: "1700000000",
    },
    signature: hex(65),
    signer: `0x${"06".repeat(20)}`,
  };
}

test("the SDK's selection is the core draw on the receipt's EIP-712 digest under the channel's secret", () => {
  const channelId = hex(32);
  const secret = hex(32);
  const sampler = createAuditSampler({
    chainId,
    paymentChannels,
    policy: { pBase: 0.3 },
    secretOf: (t) => (t.channelId === channelId ? secret : undefined),
  });
  for (let i = 0; i < 200; i++) {
    const r = receipt(5n, channelId);
    const digest = receiptDigestOf({ receipt: r.receipt, chainId, paymentChannels });
    const expected = auditDraw({ auditSecret: secret, receiptDigest: digest }) < auditThreshold({ pBase: 0.3 });
    assert.equal(sampler.sample({ channelId, receipt: r }), expected);
  }
  // A channel without a secret is never audited.
  assert.equal(sampler.sample({ channelId: hex(32), receipt: receipt(5n, channelId) }), false);
});

test("the selection rate matches p(charge) and a charge at alwaysAuditAbove is always audited (property)", () => {
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 0.5, noNaN: true }),
      fc.bigInt({ min: 1_000n, max: 1_000_000n }),
      fc.double({ min: 0, max: 1.5, noNaN: true }),
      (pBase, alwaysAuditAbove, fraction) => {
        const channelId = hex(32);
        const secret = hex(32);
        const sampler = createAuditSampler({
          chainId,
          paymentChannels,
          policy: { pBase, alwaysAuditAbove },
          secretOf: () => secret,
        });
        const charge = BigInt(Math.floor(Number(alwaysAuditAbove) * fraction));
        const p = Math.min(1, pBase + Number(charge) / Number(alwaysAuditAbove));
        const n = 1_500;
        let selected = 0;
        for (let i = 0; i < n; i++) if (sampler.sample({ channelId, receipt: receipt(charge, channelId) })) selected++;
        if (charge >= alwaysAuditAbove) assert.equal(selected, n);
        const sigma = Math.sqrt(n * p * (1 - p));
        assert.ok(Math.abs(selected - n * p) <= 5 * sigma + 1, `p=${p}: ${selected} of ${n}`);
      },
    ),
    { numRuns: 25 },
  );
});

test("a provider cannot predict audits: what it sees (seed key, commitment, receipt) says nothing about selection", () => {
  // The provider's view of a request: the seed key and commitment it was sent, and the receipt it
  // signed (it may even choose the receipt: the request id is its own). Selection depends on the
  // secret behind them, which it never sees. Over many channels, selection is independent of every
  // bit of that view, and a guess from the view (the draw keyed with the commitment instead of the
  // secret) is right no more often than chance.
  const p = 0.25;
  const threshold = auditThreshold({ pBase: p });
  const n = 6_000;
  const rows: { view: bigint[]; selected: boolean; guess: boolean }[] = [];
  const digest = receiptDigestOf({ receipt: receipt(5n, hex(32)).receipt, chainId, paymentChannels });
  for (let i = 0; i < n; i++) {
    const channelId = hex(32);
    const auditSecret = hex(32);
    const seedKey = deriveSeedKey({ chainId, channelId, voucherAmount: 1_000n + BigInt(i), auditSecret });
    const auditCommit = auditCommitOf(auditSecret);
    const selected = auditDraw({ auditSecret, receiptDigest: digest }) < threshold;
    const guess = auditDraw({ auditSecret: auditCommit, receiptDigest: digest }) < threshold;
    rows.push({ view: [hexToBigInt(seedKey), hexToBigInt(auditCommit)], selected, guess });
  }
  const sigma = (k: number) => Math.sqrt(k * p * (1 - p));
  for (const field of [0, 1]) {
    for (let bit = 0n; bit < 16n; bit++) {
      const ones = rows.filter((r) => ((r.view[field] as bigint) >> (255n - bit)) & 1n);
      const hits = ones.filter((r) => r.selected).length;
      assert.ok(Math.abs(hits - ones.length * p) <= 5 * sigma(ones.length), `field ${field} bit ${bit}`);
    }
  }
  const guessed = rows.filter((r) => r.guess);
  const right = guessed.filter((r) => r.selected).length;
  assert.ok(Math.abs(right - guessed.length * p) <= 5 * sigma(guessed.length), `${right} of ${guessed.length}`);
});

test("p outside [0, 1] and a non-positive alwaysAuditAbove are refused", () => {
  const secretOf = () => hex(32);
  assert.throws(() => createAuditSampler({ chainId, paymentChannels, policy: { pBase: 1.5 }, secretOf }), {
    code: "invalid_parameter",
  });
  assert.throws(
    () => createAuditSampler({ chainId, paymentChannels, policy: { pBase: 0.1, alwaysAuditAbove: 0n }, secretOf }),
    { code: "invalid_parameter" },
  );
});
