import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import fc from "fast-check";
import { encodePacked, keccak256, stringToHex } from "viem";
import { hashParams, paramsJson } from "./receipt.ts";
import { auditCommitOf, deriveSeedKey, seedFieldsFor } from "./sampling-seed.ts";

const hex32 = () => `0x${randomBytes(32).toString("hex")}` as const;
const arbHex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `0x${Buffer.from(b).toString("hex")}`);

test("the seed key is keccak256 of the packed domain, chain, channel, voucher amount and secret", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 ** 40 }),
      arbHex32,
      fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }),
      arbHex32,
      (chainId, channelId, voucherAmount, auditSecret) => {
        const expected = keccak256(
          encodePacked(
            ["string", "uint256", "bytes32", "uint256", "bytes32"],
            [
              "verity.seed.v1",
              BigInt(chainId),
              channelId as `0x${string}`,
              voucherAmount,
              auditSecret as `0x${string}`,
            ],
          ),
        );
        assert.equal(deriveSeedKey({ chainId, channelId, voucherAmount, auditSecret }), expected);
        // Case of the inputs does not matter.
        assert.equal(
          deriveSeedKey({
            chainId,
            channelId: channelId.toUpperCase().replace("0X", "0x"),
            voucherAmount,
            auditSecret,
          }),
          expected,
        );
      },
    ),
    { numRuns: 200 },
  );
  const secret = hex32();
  assert.equal(
    auditCommitOf(secret),
    keccak256(encodePacked(["string", "bytes32"], ["verity.audit-commit.v1", secret])),
  );
});

test("each input changes the seed key: another voucher, channel, chain or secret gives another seed", () => {
  const base = { chainId: 31337, channelId: hex32(), voucherAmount: 1_000n, auditSecret: hex32() };
  const key = deriveSeedKey(base);
  const variants = [
    { ...base, voucherAmount: 1_001n },
    { ...base, channelId: hex32() },
    { ...base, chainId: 1 },
    { ...base, auditSecret: hex32() },
  ];
  const keys = new Set([key, ...variants.map(deriveSeedKey)]);
  assert.equal(keys.size, 5);
  assert.deepEqual(seedFieldsFor(base), { seedKey: key, auditCommit: auditCommitOf(base.auditSecret) });
  assert.throws(() => deriveSeedKey({ ...base, auditSecret: "0x1234" }), RangeError);
  assert.throws(() => deriveSeedKey({ ...base, voucherAmount: -1n }), RangeError);
});

test("params without seed fields hash as before; with them, in sorted key order", () => {
  const params = { temperature: 0.7, topP: 0.9, seed: 42, maxTokens: 64, stop: ["\n"] };
  const legacy = JSON.stringify({ maxTokens: 64, seed: 42, stop: ["\n"], temperature: 0.7, topP: 0.9 });
  assert.equal(paramsJson(params), legacy);
  assert.equal(hashParams(params), keccak256(stringToHex(legacy)));
  // Present-but-undefined optional keys change nothing either.
  assert.equal(paramsJson({ ...params, seedKey: undefined, auditCommit: undefined, topK: undefined }), legacy);
  const seedKey = hex32();
  const auditCommit = hex32();
  const json = paramsJson({ ...params, seedKey, auditCommit, topK: 40 });
  assert.deepEqual(Object.keys(JSON.parse(json)), [
    "auditCommit",
    "maxTokens",
    "seed",
    "seedKey",
    "stop",
    "temperature",
    "topK",
    "topP",
  ]);
  assert.notEqual(hashParams({ ...params, seedKey }), hashParams(params));
  assert.notEqual(hashParams({ ...params, seedKey }), hashParams({ ...params, seedKey: hex32() }));
});
