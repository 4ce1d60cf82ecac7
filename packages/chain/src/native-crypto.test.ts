import assert from "node:assert/strict";
import { test } from "node:test";
import { keccak_256 } from "@noble/hashes/sha3";
import fc from "fast-check";
import { keccakBytes } from "./native-crypto.ts";

test("keccakBytes matches @noble/hashes on inputs of any length (several blocks too)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), fc.boolean(), (bytes, asBuffer) => {
      // a view into a larger buffer checks that the offset is honoured
      const padded = new Uint8Array(bytes.length + 7);
      padded.set(bytes, 3);
      const input = asBuffer ? Buffer.from(bytes) : padded.subarray(3, 3 + bytes.length);
      assert.deepEqual(Buffer.from(keccakBytes(input)), Buffer.from(keccak_256(bytes)));
    }),
    { numRuns: 300 },
  );
});

test("consecutive hashes do not leak state into each other", () => {
  const a = Buffer.from(keccakBytes(new Uint8Array([1, 2, 3])));
  keccakBytes(new Uint8Array(200));
  assert.deepEqual(Buffer.from(keccakBytes(new Uint8Array([1, 2, 3]))), a);
});
