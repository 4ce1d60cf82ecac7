import assert from "node:assert/strict";
import { test } from "node:test";
import { hashParams, hashTokens } from "@verity/core";
import fc from "fast-check";
import { receiptHashes } from "./receipt-hashes.ts";

test("the native receipt hashes equal @verity/core's for any tokens and sampling parameters", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 300 }),
      fc.record({
        temperature: fc.double({ min: 0, max: 2, noNaN: true }),
        topP: fc.double({ min: 0.01, max: 1, noNaN: true }),
        seed: fc.integer({ min: 0, max: 0xfffffffe }),
        maxTokens: fc.integer({ min: 1, max: 4096 }),
        stop: fc.array(fc.string({ unit: "grapheme", minLength: 1 }), { maxLength: 4 }),
      }),
      (tokens, params) => {
        assert.equal(receiptHashes.tokens(tokens), hashTokens(tokens));
        assert.equal(receiptHashes.params(params), hashParams(params));
      },
    ),
    { numRuns: 300 },
  );
});

test("a token id that is not a uint32 is refused like @verity/core does", () => {
  for (const bad of [-1, 2 ** 32, 1.5, Number.NaN]) {
    assert.throws(() => receiptHashes.tokens([1, bad]), RangeError);
  }
});
