import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeTensorData, encodeTensorData, ggmlByteSize } from "./ggml-types.ts";
import { createPrng } from "./prng.ts";

test("Q8_0 block: f16 scale amax/127, then 32 int8 rounded half away from zero", () => {
  const x = Float32Array.from({ length: 32 }, (_, j) => j * 8 - 127);
  x[1] = 2.5;
  x[2] = -2.5;
  const block = encodeTensorData({ type: "Q8_0", values: x });
  assert.equal(block.byteLength, 34);
  assert.deepEqual([...block.subarray(0, 2)], [0x00, 0x3c]); // d = 127/127 = 1.0
  const q = new Int8Array(block.buffer, 2, 32);
  assert.equal(q[0], -127);
  assert.equal(q[1], 3);
  assert.equal(q[2], -3);
  assert.equal(q[31], 31 * 8 - 127);
});

test("Q4_0 block: d = max/-8, nibbles (q-8) with element j low and j+16 high", () => {
  const x = new Float32Array(32);
  for (let j = 0; j < 16; j++) x[j] = j - 8;
  const block = encodeTensorData({ type: "Q4_0", values: x });
  assert.equal(block.byteLength, 18);
  assert.deepEqual([...block.subarray(0, 2)], [0x00, 0x3c]); // d = -8/-8 = 1.0
  assert.deepEqual(
    [...block.subarray(2)],
    Array.from({ length: 16 }, (_, j) => j | 0x80),
  );
  assert.deepEqual([...decodeTensorData({ type: "Q4_0", data: block })], [...x]);
});

// Q8_0: half a step, plus the f16 rounding of the scale (127 × 2^-11 steps). Q4_0 is asymmetric
// (-8…7): the side opposite the block's extreme value can be off by one full step.
test("quantisation error stays within a step of each block's scale", () => {
  const prng = createPrng({ seed: 3 });
  const x = Float32Array.from({ length: 32 * 64 }, () => prng.nextSigned() * 0.3);
  for (const [type, levels, bound] of [
    ["Q8_0", 127, 0.5 + 127 * 2 ** -11],
    ["Q4_0", 8, 1],
  ] as const) {
    const y = decodeTensorData({ type, data: encodeTensorData({ type, values: x }) });
    for (let b = 0; b < 64; b++) {
      const block = x.subarray(b * 32, b * 32 + 32);
      const step = Math.max(...block.map(Math.abs)) / levels;
      for (let j = 0; j < 32; j++) {
        assert.ok(Math.abs(block[j]! - y[b * 32 + j]!) <= step * (bound + 1e-3), `${type} block ${b}`);
      }
    }
  }
});

test("F16 and F32 round-trip and sizes follow the block layouts", () => {
  const x = Float32Array.from([0.5, -1.25, 3, 1024]);
  assert.deepEqual([...decodeTensorData({ type: "F16", data: encodeTensorData({ type: "F16", values: x }) })], [...x]);
  assert.deepEqual([...decodeTensorData({ type: "F32", data: encodeTensorData({ type: "F32", values: x }) })], [...x]);
  assert.equal(ggmlByteSize({ type: "Q4_0", count: 64 }), 36);
  assert.equal(ggmlByteSize({ type: "Q8_0", count: 64 }), 68);
  assert.throws(() => ggmlByteSize({ type: "Q8_0", count: 33 }), RangeError);
});
