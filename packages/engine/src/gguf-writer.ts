/**
 * Serialises a GGUF v3 file (header, typed metadata, tensor infos, aligned tensor data) in memory.
 * Output depends only on the input: metadata and tensors are written in the order given.
 * Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
 */
import { encodeTensorData, GGML_TYPES, type GgmlType } from "./ggml-types.ts";
import { GGUF_VALUE_TYPES, type GgufScalarType, type GgufValue } from "./gguf-value.ts";

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

export type GgufTensorInput = {
  name: string;
  /** ggml order: dims[0] is the contiguous (row) dimension. */
  dims: readonly number[];
  type: GgmlType;
  values: Float32Array;
};

export type GgufWriteOptions = {
  /** Written in this order; `general.alignment` (if given) must be a uint32 power of two. */
  metadata: readonly (readonly [string, GgufValue])[];
  tensors: readonly GgufTensorInput[];
};

export function writeGguf(options: GgufWriteOptions): Uint8Array {
  const alignmentEntry = options.metadata.find(([key]) => key === "general.alignment");
  const alignment = alignmentEntry ? Number(alignmentEntry[1].value) : GGUF_DEFAULT_ALIGNMENT;
  const out = createByteSink();

  out.u32(GGUF_MAGIC);
  out.u32(GGUF_VERSION);
  out.u64(BigInt(options.tensors.length));
  out.u64(BigInt(options.metadata.length));
  for (const [key, value] of options.metadata) {
    out.str(key);
    writeValue(out, value);
  }

  const encoded = options.tensors.map((tensor) => {
    const count = tensor.dims.reduce((a, b) => a * b, 1);
    if (count !== tensor.values.length) {
      throw new RangeError(`tensor ${tensor.name}: dims give ${count} elements, values have ${tensor.values.length}`);
    }
    return encodeTensorData({ type: tensor.type, values: tensor.values });
  });
  let offset = 0;
  options.tensors.forEach((tensor, i) => {
    out.str(tensor.name);
    out.u32(tensor.dims.length);
    for (const dim of tensor.dims) out.u64(BigInt(dim));
    out.u32(GGML_TYPES[tensor.type].id);
    out.u64(BigInt(offset));
    offset = alignUp(offset + encoded[i]!.byteLength, alignment);
  });

  out.pad(alignment);
  for (const data of encoded) {
    out.bytes(data);
    out.pad(alignment);
  }
  return out.finish();
}

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

function writeValue(out: ByteSink, value: GgufValue): void {
  out.u32(GGUF_VALUE_TYPES[value.type]);
  if (value.type === "array") {
    out.u32(GGUF_VALUE_TYPES[value.itemType]);
    out.u64(BigInt(value.value.length));
    for (const item of value.value) writeScalar(out, value.itemType, item);
  } else {
    writeScalar(out, value.type, value.value);
  }
}

type Scalar = string | number | bigint | boolean;

const SCALAR_WRITERS: Record<GgufScalarType, (out: ByteSink, value: Scalar) => void> = {
  string: (out, v) => out.str(String(v)),
  bool: (out, v) => out.u8(v ? 1 : 0),
  uint8: (out, v) => out.u8(Number(v)),
  int8: (out, v) => out.fixed(1, (d, at) => d.setInt8(at, Number(v))),
  uint16: (out, v) => out.fixed(2, (d, at) => d.setUint16(at, Number(v), true)),
  int16: (out, v) => out.fixed(2, (d, at) => d.setInt16(at, Number(v), true)),
  uint32: (out, v) => out.u32(Number(v)),
  int32: (out, v) => out.fixed(4, (d, at) => d.setInt32(at, Number(v), true)),
  float32: (out, v) => out.fixed(4, (d, at) => d.setFloat32(at, Number(v), true)),
  uint64: (out, v) => out.u64(BigInt(v)),
  int64: (out, v) => out.fixed(8, (d, at) => d.setBigInt64(at, BigInt(v), true)),
  float64: (out, v) => out.fixed(8, (d, at) => d.setFloat64(at, Number(v), true)),
};

function writeScalar(out: ByteSink, type: GgufScalarType, value: Scalar): void {
  SCALAR_WRITERS[type](out, value);
}

type ByteSink = ReturnType<typeof createByteSink>;

/** A growable little-endian byte buffer. */
function createByteSink() {
  let buffer = new Uint8Array(1 << 16);
  let view = new DataView(buffer.buffer);
  let length = 0;
  const encoder = new TextEncoder();

  function reserve(n: number): number {
    if (length + n > buffer.byteLength) {
      const next = new Uint8Array(Math.max(buffer.byteLength * 2, length + n));
      next.set(buffer.subarray(0, length));
      buffer = next;
      view = new DataView(buffer.buffer);
    }
    const at = length;
    length += n;
    return at;
  }
  const sink = {
    fixed(n: number, write: (v: DataView, at: number) => void): void {
      const at = reserve(n);
      write(view, at);
    },
    u8: (v: number) => sink.fixed(1, (d, at) => d.setUint8(at, v)),
    u32: (v: number) => sink.fixed(4, (d, at) => d.setUint32(at, v, true)),
    u64: (v: bigint) => sink.fixed(8, (d, at) => d.setBigUint64(at, v, true)),
    bytes(data: Uint8Array): void {
      const at = reserve(data.byteLength);
      buffer.set(data, at);
    },
    str(s: string): void {
      const data = encoder.encode(s);
      sink.u64(BigInt(data.byteLength));
      sink.bytes(data);
    },
    pad(alignment: number): void {
      reserve(alignUp(length, alignment) - length);
    },
    finish: (): Uint8Array => buffer.slice(0, length),
  };
  return sink;
}
