/**
 * A small seeded PRNG (xoshiro128** seeded through splitmix32) for deterministic test weights.
 * Only 32-bit integer arithmetic and exact float conversions: the same seed gives the same numbers on
 * every machine and Node version (no `Math.random`, no transcendental functions).
 */
export type Prng = {
  /** Next unsigned 32-bit integer. */
  nextUint32(): number;
  /** Uniform in [-1, 1), 24 bits of resolution (exactly representable as float32). */
  nextSigned(): number;
};

function splitmix32(state: number): { state: number; value: number } {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return { state: next, value: (z ^ (z >>> 16)) >>> 0 };
}

export function createPrng(options: { seed: number }): Prng {
  if (!Number.isSafeInteger(options.seed)) throw new RangeError("seed must be a safe integer");
  let sm = (options.seed ^ Math.floor(options.seed / 2 ** 32)) | 0;
  const seeds: number[] = [];
  for (let i = 0; i < 4; i++) {
    const r = splitmix32(sm);
    sm = r.state;
    seeds.push(r.value);
  }
  let [a, b, c, d] = seeds as [number, number, number, number];
  if ((a | b | c | d) === 0) a = 1;

  function nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  }
  return {
    nextUint32,
    nextSigned: () => (nextUint32() >>> 8) / 2 ** 23 - 1,
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
