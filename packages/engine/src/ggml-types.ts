/**
 * The ggml tensor types this package writes, with their GGUF type ids and block layouts, and the
 * quantisation routines, bit-exact with ggml's reference implementations
 * (`quantize_row_q8_0_ref`, `quantize_row_q4_0_ref` in ggml-quants.c).
 */
import { f16BitsToF32, f32ToF16Bits } from "./f16.ts";

export const GGML_TYPES = {
  F32: { id: 0, blockSize: 1, blockBytes: 4 },
  F16: { id: 1, blockSize: 1, blockBytes: 2 },
  Q4_0: { id: 2, blockSize: 32, blockBytes: 18 },
  Q8_0: { id: 8, blockSize: 32, blockBytes: 34 },
} as const;

export type GgmlType = keyof typeof GGML_TYPES;

export function ggmlTypeName(id: number): GgmlType | undefined {
  for (const [name, info] of Object.entries(GGML_TYPES)) if (info.id === id) return name as GgmlType;
  return undefined;
}

/** Bytes taken by `count` elements of `type` (count must be a multiple of the block size). */
export function ggmlByteSize(options: { type: GgmlType; count: number }): number {
  const info = GGML_TYPES[options.type];
  if (options.count % info.blockSize !== 0) {
    throw new RangeError(`${options.type} needs a multiple of ${info.blockSize} elements, got ${options.count}`);
  }
  return (options.count / info.blockSize) * info.blockBytes;
}

/** Encodes float values (row-major, rows contiguous along dimension 0) as `type`. */
export function encodeTensorData(options: { type: GgmlType; values: Float32Array }): Uint8Array {
  const { type, values } = options;
  const out = new Uint8Array(ggmlByteSize({ type, count: values.length }));
  const view = new DataView(out.buffer);
  switch (type) {
    case "F32":
      for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
      return out;
    case "F16":
      for (let i = 0; i < values.length; i++) view.setUint16(i * 2, f32ToF16Bits(values[i]!), true);
      return out;
    case "Q8_0":
      quantizeQ8_0(values, view);
      return out;
    case "Q4_0":
      quantizeQ4_0(values, view);
      return out;
  }
}

/** Decodes tensor data back to floats (what ggml computes with; used by tests and tools). */
export function decodeTensorData(options: { type: GgmlType; data: Uint8Array }): Float32Array {
  const { type, data } = options;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const info = GGML_TYPES[type];
  const blocks = data.byteLength / info.blockBytes;
  const out = new Float32Array(blocks * info.blockSize);
  for (let b = 0; b < blocks; b++) {
    const at = b * info.blockBytes;
    switch (type) {
      case "F32":
        out[b] = view.getFloat32(at, true);
        break;
      case "F16":
        out[b] = f16BitsToF32(view.getUint16(at, true));
        break;
      case "Q8_0": {
        const d = f16BitsToF32(view.getUint16(at, true));
        for (let j = 0; j < 32; j++) out[b * 32 + j] = view.getInt8(at + 2 + j) * d;
        break;
      }
      case "Q4_0": {
        const d = f16BitsToF32(view.getUint16(at, true));
        for (let j = 0; j < 16; j++) {
          const q = view.getUint8(at + 2 + j);
          out[b * 32 + j] = ((q & 0x0f) - 8) * d;
          out[b * 32 + 16 + j] = ((q >>> 4) - 8) * d;
        }
        break;
      }
    }
  }
  return out;
}

const fr = Math.fround;

/** C `roundf`: half away from zero (exact for float32 inputs in float64 arithmetic). */
function roundf(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

function quantizeQ8_0(x: Float32Array, out: DataView): void {
  for (let i = 0; i < x.length / 32; i++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[i * 32 + j]!));
    const d = fr(amax / 127);
    const id = d === 0 ? 0 : fr(1 / d);
    const at = i * 34;
    out.setUint16(at, f32ToF16Bits(d), true);
    for (let j = 0; j < 32; j++) out.setInt8(at + 2 + j, roundf(fr(x[i * 32 + j]! * id)));
  }
}

function quantizeQ4_0(x: Float32Array, out: DataView): void {
  for (let i = 0; i < x.length / 32; i++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[i * 32 + j]!;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = fr(max / -8);
    const id = d === 0 ? 0 : fr(1 / d);
    const at = i * 18;
    out.setUint16(at, f32ToF16Bits(d), true);
    for (let j = 0; j < 16; j++) {
      const x0 = fr(x[i * 32 + j]! * id);
      const x1 = fr(x[i * 32 + 16 + j]! * id);
      const xi0 = Math.min(15, toInt8(fr(x0 + 8.5)));
      const xi1 = Math.min(15, toInt8(fr(x1 + 8.5)));
      out.setUint8(at + 2 + j, (xi0 | (xi1 << 4)) & 0xff);
    }
  }
}

/** C `(int8_t)(float)`: truncation toward zero, then wrap to 8 bits. */
function toInt8(v: number): number {
  return (Math.trunc(v) << 24) >> 24;
}
