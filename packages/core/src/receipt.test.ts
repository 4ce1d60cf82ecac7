import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { encodePacked, keccak256 } from "viem";
import { hashTokens } from "./receipt.ts";

test("hashTokens is keccak256 of the ids packed as uint32, for any ids", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 600 }), (tokens) => {
      const packed = keccak256(
        encodePacked(
          tokens.map(() => "uint32" as const),
          tokens,
        ),
      );
      assert.equal(hashTokens(tokens), packed);
    }),
    { numRuns: 200 },
  );
});

test("hashTokens refuses ids that are not uint32", () => {
  for (const bad of [-1, 2 ** 32, 1.5, Number.NaN]) assert.throws(() => hashTokens([1, bad]), RangeError);
});
