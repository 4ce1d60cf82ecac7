/**
 * Reads the header of a GGUF file (metadata and tensor infos) without loading tensor data, so it
 * works on multi-gigabyte models. Used to hash a model's identity and to validate cached files.
 */
import { open } from "node:fs/promises";
import { ConfigError } from "@verity/core";
import { type GgmlType, ggmlByteSize, ggmlTypeName } from "./ggml-types.ts";
import { type GgufScalarType, type GgufValue, ggufValueTypeName } from "./gguf-value.ts";
import { alignUp, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC } from "./gguf-writer.ts";

export type GgufTensorInfo = {
  name: string;
  dims: number[];
  /** ggml type id; `type` is its name when it is one this package knows. */
  typeId: number;
  type: GgmlType | undefined;
  /** Offset relative to `dataOffset`. */
  offset: number;
};

export type GgufHeader = {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** File offsets where the tensor infos start (right after the metadata) and end. */
  tensorInfosOffset: number;
  tensorInfosEnd: number;
  /** File offset where tensor data starts (aligned). */
  dataOffset: number;
  fileSize: number;
};

const CHUNK = 1 << 20;

export async function readGgufHeader(options: { path: string }): Promise<GgufHeader> {
  const handle = await open(options.path, "r").catch((cause: unknown) => {
    throw new ConfigError(`Cannot open model file ${options.path}`, {
      code: "invalid_parameter",
      hint: "Check the model path",
      cause,
    });
  });
  try {
    const fileSize = (await handle.stat()).size;
    let buffer = Buffer.alloc(0);
    let bufferStart = 0;
    let pos = 0;
    const decoder = new TextDecoder("utf-8", { fatal: false });

    async function need(n: number): Promise<void> {
      if (pos + n <= bufferStart + buffer.byteLength) return;
      if (pos + n > fileSize) throw malformed(options.path, "file ends inside the header");
      const keep = buffer.subarray(pos - bufferStart);
      const more = Buffer.alloc(Math.max(CHUNK, n));
      const { bytesRead } = await handle.read(more, 0, more.byteLength, bufferStart + buffer.byteLength);
      buffer = Buffer.concat([keep, more.subarray(0, bytesRead)]);
      bufferStart = pos;
    }
    async function take(n: number): Promise<Buffer> {
      await need(n);
      const slice = buffer.subarray(pos - bufferStart, pos - bufferStart + n);
      pos += n;
      return slice;
    }
    const u8 = async () => (await take(1)).readUInt8(0);
    const u32 = async () => (await take(4)).readUInt32LE(0);
    const u64 = async () => (await take(8)).readBigUInt64LE(0);
    const safe = (v: bigint, what: string) => {
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(options.path, `${what} too large`);
      return Number(v);
    };
    const str = async () => decoder.decode(await take(safe(await u64(), "string length")));

    async function scalar(type: GgufScalarType): Promise<string | number | bigint | boolean> {
      switch (type) {
        case "string":
          return str();
        case "bool":
          return (await u8()) !== 0;
        case "uint8":
          return u8();
        case "int8":
          return (await take(1)).readInt8(0);
        case "uint16":
          return (await take(2)).readUInt16LE(0);
        case "int16":
          return (await take(2)).readInt16LE(0);
        case "uint32":
          return u32();
        case "int32":
          return (await take(4)).readInt32LE(0);
        case "float32":
          return (await take(4)).readFloatLE(0);
        case "uint64":
          return u64();
        case "int64":
          return (await take(8)).readBigInt64LE(0);
        case "float64":
          return (await take(8)).readDoubleLE(0);
      }
    }
    async function value(): Promise<GgufValue> {
      const type = ggufValueTypeName(await u32());
      if (type === undefined) throw malformed(options.path, "unknown metadata value type");
      if (type !== "array") return { type, value: await scalar(type) } as GgufValue;
      const itemType = ggufValueTypeName(await u32());
      if (itemType === undefined || itemType === "array") throw malformed(options.path, "unsupported array type");
      const count = safe(await u64(), "array length");
      const items: (string | number | bigint | boolean)[] = [];
      for (let i = 0; i < count; i++) items.push(await scalar(itemType));
      return { type: "array", itemType, value: items };
    }

    if ((await u32()) !== GGUF_MAGIC) throw malformed(options.path, "not a GGUF file (bad magic)");
    const version = await u32();
    if (version < 2 || version > 3) throw malformed(options.path, `unsupported GGUF version ${version}`);
    const tensorCount = safe(await u64(), "tensor count");
    const kvCount = safe(await u64(), "metadata count");
    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < kvCount; i++) {
      const key = await str();
      metadata.set(key, await value());
    }
    const tensorInfosOffset = pos;
    const tensors: GgufTensorInfo[] = [];
    for (let i = 0; i < tensorCount; i++) {
      const name = await str();
      const nDims = await u32();
      const dims: number[] = [];
      for (let d = 0; d < nDims; d++) dims.push(safe(await u64(), "dimension"));
      const typeId = await u32();
      tensors.push({ name, dims, typeId, type: ggmlTypeName(typeId), offset: safe(await u64(), "offset") });
    }
    const alignmentValue = metadata.get("general.alignment");
    const alignment = alignmentValue ? Number(alignmentValue.value) : GGUF_DEFAULT_ALIGNMENT;
    return {
      version,
      metadata,
      tensors,
      alignment,
      tensorInfosOffset,
      tensorInfosEnd: pos,
      dataOffset: alignUp(pos, alignment),
      fileSize,
    };
  } finally {
    await handle.close();
  }
}

/**
 * The file size the header implies when every tensor has a known type (data of the last tensor,
 * padded to the alignment), or undefined when a tensor type is unknown to this package.
 */
export function expectedGgufFileSize(header: GgufHeader): number | undefined {
  let end = 0;
  for (const tensor of header.tensors) {
    if (tensor.type === undefined) return undefined;
    const count = tensor.dims.reduce((a, b) => a * b, 1);
    end = Math.max(end, alignUp(tensor.offset + ggmlByteSize({ type: tensor.type, count }), header.alignment));
  }
  return header.dataOffset + end;
}

/** The metadata value at `key` as a string/number, or undefined. */
export function metadataScalar(header: GgufHeader, key: string): string | number | bigint | boolean | undefined {
  const entry = header.metadata.get(key);
  return entry && entry.type !== "array" ? entry.value : undefined;
}

function malformed(path: string, reason: string): ConfigError {
  return new ConfigError(`Model file ${path} is not a readable GGUF: ${reason}`, {
    code: "invalid_parameter",
    hint: "Use a GGUF v2/v3 model file",
  });
}
