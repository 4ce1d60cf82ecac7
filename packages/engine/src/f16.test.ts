import assert from "node:assert/strict";
import { test } from "node:test";
import { f16BitsToF32, f32ToF16Bits } from "./f16.ts";
import { createPrng } from "./prng.ts";

test("known half-precision encodings", () => {
  assert.equal(f32ToF16Bits(0), 0x0000);
  assert.equal(f32ToF16Bits(-0), 0x8000);
  assert.equal(f32ToF16Bits(1), 0x3c00);
  assert.equal(f32ToF16Bits(-2), 0xc000);
  assert.equal(f32ToF16Bits(65504), 0x7bff);
  assert.equal(f32ToF16Bits(65520), 0x7c00); // rounds to infinity
  assert.equal(f32ToF16Bits(2 ** -24), 0x0001); // smallest subnormal
  assert.equal(f32ToF16Bits(2 ** -25), 0x0000); // ties to even (zero)
  assert.equal(f32ToF16Bits(1 + 2 ** -11), 0x3c00); // tie → even
  assert.equal(f32ToF16Bits(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
  assert.equal(f32ToF16Bits(Number.POSITIVE_INFINITY), 0x7c00);
  assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(Number.NaN))));
});

test("matches the platform's Float16 rounding on random and edge values", () => {
  const view = new DataView(new ArrayBuffer(2)) as DataView & {
    setFloat16?: (offset: number, value: number, littleEndian?: boolean) => void;
  };
  if (typeof view.setFloat16 !== "function") return;
  const prng = createPrng({ seed: 7 });
  const values = [6.1e-5, 6.0e-5, 5.96e-8, 1e-7, 3.3, 1e5, -1e-3];
  for (let i = 0; i < 20_000; i++) {
    const scale = 2 ** ((prng.nextUint32() % 40) - 26);
    values.push(Math.fround(prng.nextSigned() * scale));
  }
  for (const value of values) {
    view.setFloat16(0, value, true);
    assert.equal(f32ToF16Bits(value), view.getUint16(0, true), `value ${value}`);
  }
});

test("every finite half converts to float and back unchanged", () => {
  for (let bits = 0; bits < 0x10000; bits++) {
    if ((bits & 0x7c00) === 0x7c00) continue;
    assert.equal(f32ToF16Bits(f16BitsToF32(bits)), bits);
  }
});
