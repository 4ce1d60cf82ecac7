import assert from "node:assert/strict";
import { test } from "node:test";
import { hashParams, hashTokens } from "@verity/core";
import { keccak256, stringToHex } from "viem";
import { buildEvidence, canonicalJson, readEvidence, receiptDigest } from "./evidence.ts";
import { parseAuditSample } from "./intake.ts";

const hex = (byte: string, bytes: number) => `0x${byte.repeat(bytes)}`;
const sampling = { temperature: 0, topP: 1, seed: 1, maxTokens: 3, stop: [] as string[] };
const sample = parseAuditSample({
  version: 1,
  chainId: 31337,
  paymentChannels: hex("ab", 20),
  agentId: "1",
  channelId: hex("01", 32),
  modelId: "1",
  model: "verity-tiny",
  kind: "chat",
  request: { model: "verity-tiny", messages: [{ role: "user", content: "hi" }] },
  output: "abc",
  promptTokenIds: [1, 2, 3],
  outputTokenIds: [4, 5, 6],
  sampling,
  receipt: {
    receipt: {
      requestId: hex("02", 32),
      channelId: hex("01", 32),
      modelId: "1",
      promptHash: hashTokens([1, 2, 3]),
      outputHash: hashTokens([4, 5, 6]),
      paramsHash: hashParams(sampling),
      promptTokens: 3,
      completionTokens: 3,
      charge: "10",
      cumulativeCharged: "10",
      timestamp: "1700000000",
    },
    signature: hex("cd", 65),
    signer: hex("ef", 20),
  },
});
const verdict = {
  pass: false,
  score: 0.5,
  reasons: ["greedy_not_top1" as const],
  details: ["1 greedy token not rank 1"],
  stats: {} as never,
};

test("canonical JSON sorts keys at every depth and drops undefined", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } }),
    '{"a":{"d":[3,{"y":2,"z":1}]},"b":1}',
  );
  assert.equal(canonicalJson({ x: 1, y: 2 }), canonicalJson({ y: 2, x: 1 }));
});

test("evidence round-trips and its hash is the keccak256 of its bytes", () => {
  const evidence = buildEvidence({ sample, verdict });
  assert.equal(evidence.hash, keccak256(stringToHex(evidence.body)));
  // Key order of the input does not change the bytes.
  const reordered = JSON.parse(JSON.stringify(sample), (_, v) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
  );
  assert.equal(buildEvidence({ sample: reordered, verdict }).hash, evidence.hash);
  const read = readEvidence({ body: evidence.body, evidenceHash: evidence.hash });
  assert.ok(read.ok);
  assert.deepEqual(read.sample, sample);
});

test("unusable evidence says why", () => {
  const evidence = buildEvidence({ sample, verdict });
  const tampered = evidence.body.replace('"charge":"10"', '"charge":"11"');
  assert.deepEqual(readEvidence({ body: tampered, evidenceHash: evidence.hash }), {
    ok: false,
    reason: "evidence_hash_mismatch",
  });
  const notJson = "not json";
  assert.deepEqual(readEvidence({ body: notJson, evidenceHash: keccak256(stringToHex(notJson)) }), {
    ok: false,
    reason: "evidence_not_json",
  });
  const wrongShape = canonicalJson({ version: 2, sample, verdict });
  assert.deepEqual(readEvidence({ body: wrongShape, evidenceHash: keccak256(stringToHex(wrongShape)) }), {
    ok: false,
    reason: "evidence_malformed",
  });
  const badSample = canonicalJson({ version: 1, sample: { ...sample, promptTokenIds: [] }, verdict });
  assert.deepEqual(readEvidence({ body: badSample, evidenceHash: keccak256(stringToHex(badSample)) }), {
    ok: false,
    reason: "evidence_sample_invalid",
  });
});

test("the receipt digest depends on chain and contract", () => {
  const base = { receipt: sample.receipt.receipt, chainId: 31337, paymentChannels: hex("ab", 20) as `0x${string}` };
  const digest = receiptDigest(base);
  assert.match(digest, /^0x[0-9a-f]{64}$/);
  assert.notEqual(receiptDigest({ ...base, chainId: 1 }), digest);
  assert.notEqual(receiptDigest({ ...base, paymentChannels: hex("ac", 20) as `0x${string}` }), digest);
});
