/**
 * The identity of a GGUF model: one hash over the weights and one over the tokenizer, so a model
 * can be registered on-chain and a validator can tell which model it holds.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { Hex32, ModelIdentity } from "./engine.ts";
import { type GgufHeader, readGgufHeader } from "./gguf-reader.ts";

/** `header` saves re-reading it when the caller already has it. */
export async function computeModelIdentity(options: { path: string; header?: GgufHeader }): Promise<ModelIdentity> {
  const header = options.header ?? (await readGgufHeader({ path: options.path }));
  return { weightsHash: await weightsHash(options.path, header), tokenizerHash: tokenizerHash(header) };
}

/** sha256 of the tensor infos (names, shapes, types, relative offsets) followed by the tensor data. */
async function weightsHash(path: string, header: GgufHeader): Promise<Hex32> {
  const hash = createHash("sha256");
  const ranges = [
    { start: header.tensorInfosOffset, end: header.tensorInfosEnd - 1 },
    { start: header.dataOffset, end: header.fileSize - 1 },
  ];
  for (const range of ranges) {
    if (range.end < range.start) continue;
    for await (const chunk of createReadStream(path, { ...range, highWaterMark: 1 << 22 }))
      hash.update(chunk as Buffer);
  }
  return `0x${hash.digest("hex")}`;
}

/** sha256 of `[[key, type, itemType?, value], …]` for every `tokenizer.*` key, sorted by key. */
export function tokenizerHash(header: GgufHeader): Hex32 {
  const entries = [...header.metadata]
    .filter(([key]) => key.startsWith("tokenizer."))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, v]) => (v.type === "array" ? [key, v.type, v.itemType, v.value] : [key, v.type, v.value]));
  const json = JSON.stringify(entries, (_key, value: unknown) =>
    typeof value === "bigint" ? value.toString() : value,
  );
  return `0x${createHash("sha256").update(json).digest("hex")}`;
}
