import assert from "node:assert/strict";
import { test } from "node:test";
import { receiptDomain, receiptTypes, voucherDomain, voucherTypes } from "@verity/core";
import fc from "fast-check";
import { hashTypedData, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { createNativeAccount, createStaticTypedDataHasher } from "./native-account.ts";

const CONTRACT = "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9" as const;
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const keyArb = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .filter((b) => b.some((x) => x !== 0) && BigInt(toHex(b)) < N)
  .map((b) => toHex(b));
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => toHex(b));
const uint = (bits: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });

test("vouchers: the native digest and signature equal viem's for random keys and values", async () => {
  const hasher = createStaticTypedDataHasher();
  await fc.assert(
    fc.asyncProperty(
      keyArb,
      bytes32,
      uint(256),
      fc.integer({ min: 1, max: 2 ** 31 }),
      async (key, channelId, amount, chainId) => {
        const typed = {
          domain: voucherDomain({ chainId, verifyingContract: CONTRACT }),
          types: voucherTypes,
          primaryType: "Voucher" as const,
          message: { channelId, cumulativeAmount: amount },
        };
        assert.equal(toHex(hasher.digest(typed) ?? new Uint8Array()), hashTypedData(typed));
        assert.equal(
          await createNativeAccount(key).signTypedData(typed),
          await privateKeyToAccount(key).signTypedData(typed),
        );
      },
    ),
    { numRuns: 60 },
  );
});

test("receipts: the native signature equals viem's", async () => {
  await fc.assert(
    fc.asyncProperty(
      keyArb,
      fc.record({
        requestId: bytes32,
        channelId: bytes32,
        modelId: uint(256),
        promptHash: bytes32,
        outputHash: bytes32,
        paramsHash: bytes32,
        promptTokens: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        completionTokens: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        charge: uint(256),
        cumulativeCharged: uint(256),
        timestamp: uint(64),
      }),
      async (key, message) => {
        const typed = {
          domain: receiptDomain({ chainId: 31337, verifyingContract: CONTRACT }),
          types: receiptTypes,
          primaryType: "Receipt" as const,
          message,
        };
        assert.equal(
          await createNativeAccount(key).signTypedData(typed),
          await privateKeyToAccount(key).signTypedData(typed),
        );
      },
    ),
    { numRuns: 40 },
  );
});

test("structs it cannot encode go to viem: nested types, strings, out-of-range values", async () => {
  const key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d" as const;
  const native = createNativeAccount(key);
  const viem = privateKeyToAccount(key);
  const nested = {
    domain: { name: "T", version: "1", chainId: 1 },
    types: { Outer: [{ name: "inner", type: "Inner" }], Inner: [{ name: "x", type: "uint8" }] },
    primaryType: "Outer" as const,
    message: { inner: { x: 1 } },
  };
  assert.equal(createStaticTypedDataHasher().digest(nested), undefined);
  assert.equal(await native.signTypedData(nested), await viem.signTypedData(nested));
  const text = {
    domain: { name: "T" },
    types: { Mail: [{ name: "body", type: "string" }] },
    primaryType: "Mail" as const,
    message: { body: "hello" },
  };
  assert.equal(await native.signTypedData(text), await viem.signTypedData(text));
  const tooLarge = {
    domain: { name: "T" },
    types: { Small: [{ name: "x", type: "uint8" }] },
    primaryType: "Small" as const,
    message: { x: 256n },
  };
  assert.equal(createStaticTypedDataHasher().digest(tooLarge), undefined);
  await assert.rejects(native.signTypedData(tooLarge));
  assert.equal(native.address, viem.address);
});
