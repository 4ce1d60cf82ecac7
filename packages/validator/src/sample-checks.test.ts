import assert from "node:assert/strict";
import { test } from "node:test";
import {
  auditCommitOf,
  BaseError,
  type Deployment,
  deriveSeedKey,
  hashParams,
  hashTokens,
  isAuditSelected,
  type ReceiptParams,
} from "@verity/core";
import fc from "fast-check";
import { receiptDigest } from "./evidence.ts";
import type { AuditSampleInput } from "./intake.ts";
import { preflightSample } from "./sample-checks.ts";

const paymentChannels = `0x${"cc".repeat(20)}` as const;
const deployment = {
  chainId: 31337,
  contracts: { PaymentChannels: { address: paymentChannels } },
} as unknown as Deployment;
const channelId = `0x${"01".repeat(32)}` as const;
const secret = `0x${"5e".repeat(32)}` as const;
const promptTokenIds = [1, 2, 3, 4];
const outputTokenIds = [5, 6, 7];

/** A sample whose receipt commits to `seed` fields (derived from `derive`) and reveals `reveal`. */
function sample(
  options: {
    derive?: { chainId?: number; channelId?: `0x${string}`; voucherAmount?: bigint; auditSecret?: `0x${string}` };
    reveal?: AuditSampleInput["reveal"] | null;
    commitSecret?: `0x${string}`;
    charge?: bigint;
    requestId?: `0x${string}`;
    outputTokenIds?: number[];
    seedKey?: boolean;
  } = {},
): AuditSampleInput {
  const d = options.derive ?? {};
  const seedKey = deriveSeedKey({
    chainId: d.chainId ?? deployment.chainId,
    channelId: d.channelId ?? channelId,
    voucherAmount: d.voucherAmount ?? 5_000n,
    auditSecret: d.auditSecret ?? secret,
  });
  const sampling: ReceiptParams & { stop: string[] } = {
    temperature: 1,
    topP: 1,
    seed: 0,
    maxTokens: 8,
    stop: [],
    ...(options.seedKey === false ? {} : { seedKey }),
    auditCommit: auditCommitOf(options.commitSecret ?? secret),
  };
  const charge = (options.charge ?? 100n).toString();
  return {
    version: 1,
    chainId: deployment.chainId,
    paymentChannels,
    agentId: "1",
    channelId,
    modelId: "1",
    model: "verity-tiny",
    kind: "chat",
    request: { messages: [{ role: "user", content: "hi" }] },
    output: "abc",
    promptTokenIds,
    outputTokenIds: options.outputTokenIds ?? outputTokenIds,
    sampling,
    receipt: {
      receipt: {
        requestId: options.requestId ?? `0x${"02".repeat(32)}`,
        channelId,
        modelId: "1",
        promptHash: hashTokens(promptTokenIds),
        outputHash: hashTokens(outputTokenIds),
        paramsHash: hashParams(sampling),
        promptTokens: promptTokenIds.length,
        completionTokens: outputTokenIds.length,
        charge,
        cumulativeCharged: charge,
        timestamp: "1700000000",
      },
      signature: `0x${"cd".repeat(65)}`,
      signer: `0x${"ef".repeat(20)}`,
    },
    ...(options.reveal === null
      ? {}
      : { reveal: options.reveal ?? { auditSecret: secret, voucherAmount: "5000", policy: { pBase: 1 } } }),
  };
}

const codeOf = (body: unknown): string | undefined => {
  try {
    preflightSample({ body, deployment });
    return undefined;
  } catch (error) {
    assert.ok(error instanceof BaseError, String(error));
    return error.code;
  }
};

test("an honest seed-synced sample is accepted; each bad reveal is refused with its reason code", () => {
  assert.equal(codeOf(sample()), undefined);
  const reveal = (r: Partial<NonNullable<AuditSampleInput["reveal"]>>) => ({
    auditSecret: secret,
    voucherAmount: "5000",
    policy: { pBase: 1 },
    ...r,
  });
  const cases: [string, AuditSampleInput, string][] = [
    ["no reveal for a receipt with a seed key", sample({ reveal: null }), "missing_seed"],
    ["another secret", sample({ reveal: reveal({ auditSecret: `0x${"66".repeat(32)}` }) }), "audit_commit_mismatch"],
    ["a commitment to another secret", sample({ commitSecret: `0x${"67".repeat(32)}` }), "audit_commit_mismatch"],
    [
      "a seed of another channel",
      sample({ derive: { channelId: `0x${"09".repeat(32)}` } }),
      "seed_derivation_mismatch",
    ],
    ["a seed of another chain", sample({ derive: { chainId: 1 } }), "seed_derivation_mismatch"],
    ["a seed replayed from another voucher", sample({ derive: { voucherAmount: 4_000n } }), "seed_derivation_mismatch"],
    [
      "a voucher amount below the receipt's charged total",
      sample({ derive: { voucherAmount: 50n }, reveal: reveal({ voucherAmount: "50" }) }),
      "seed_derivation_mismatch",
    ],
    [
      "a seed the provider chose",
      sample({ derive: { auditSecret: `0x${"77".repeat(32)}` } }),
      "seed_derivation_mismatch",
    ],
    ["a receipt the draw did not select", sample({ reveal: reveal({ policy: { pBase: 0 } }) }), "audit_not_selected"],
    ["output ids that do not hash to the receipt's", sample({ outputTokenIds: [5, 6, 8] }), "transcript_hash_mismatch"],
    [
      "a malformed reveal",
      sample({ reveal: { auditSecret: "0x12", voucherAmount: "1", policy: { pBase: 1 } } }),
      "audit_sample_invalid",
    ],
  ];
  for (const [name, body, code] of cases) assert.equal(codeOf(body), code, name);
  // A charge at alwaysAuditAbove is selected whatever pBase.
  assert.equal(
    codeOf(sample({ charge: 100n, reveal: reveal({ policy: { pBase: 0, alwaysAuditAbove: "100" } }) })),
    undefined,
  );
  // A receipt with only the commitment (an upstream provider's) is checked for commitment and selection.
  assert.equal(codeOf(sample({ seedKey: false })), undefined);
  assert.equal(codeOf(sample({ seedKey: false, reveal: reveal({ policy: { pBase: 0 } }) })), "audit_not_selected");
});

test("the intake accepts exactly the receipts the commit-reveal draw selects (property)", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (id, pBase) => {
        const requestId = `0x${Buffer.from(id).toString("hex")}` as `0x${string}`;
        const body = sample({ requestId, reveal: { auditSecret: secret, voucherAmount: "5000", policy: { pBase } } });
        const digest = receiptDigest({ receipt: body.receipt.receipt, chainId: deployment.chainId, paymentChannels });
        const selected = isAuditSelected({ pBase, auditSecret: secret, receiptDigest: digest, charge: 100n });
        assert.equal(codeOf(body), selected ? undefined : "audit_not_selected");
      },
    ),
    { numRuns: 200 },
  );
});
