import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { decodeTensorData } from "./ggml-types.ts";
import { expectedGgufFileSize, readGgufHeader } from "./gguf-reader.ts";
import { gguf } from "./gguf-value.ts";
import { writeGguf } from "./gguf-writer.ts";

const dir = mkdtempSync(join(tmpdir(), "verity-gguf-"));

test("a written GGUF reads back: header, typed metadata, aligned tensor data", async () => {
  const weights = Float32Array.from({ length: 64 }, (_, i) => (i - 32) / 8);
  const bytes = writeGguf({
    metadata: [
      ["general.architecture", gguf.str("llama")],
      ["general.alignment", gguf.u32(64)],
      ["x.f32", gguf.f32(0.5)],
      ["x.flag", gguf.bool(true)],
      ["x.big", { type: "uint64", value: 2n ** 40n }],
      ["x.names", gguf.strings(["a", "ü", ""])],
      ["x.ids", gguf.i32s([-1, 2])],
    ],
    tensors: [
      { name: "norm", dims: [3], type: "F32", values: Float32Array.from([1, 2, 3]) },
      { name: "w", dims: [32, 2], type: "Q8_0", values: weights },
    ],
  });
  const path = join(dir, "roundtrip.gguf");
  writeFileSync(path, bytes);
  const header = await readGgufHeader({ path });

  assert.equal(header.version, 3);
  assert.equal(header.alignment, 64);
  assert.deepEqual(
    [...header.metadata.keys()],
    ["general.architecture", "general.alignment", "x.f32", "x.flag", "x.big", "x.names", "x.ids"],
  );
  assert.deepEqual(header.metadata.get("x.names"), { type: "array", itemType: "string", value: ["a", "ü", ""] });
  assert.deepEqual(header.metadata.get("x.ids"), { type: "array", itemType: "int32", value: [-1, 2] });
  assert.deepEqual(header.metadata.get("x.big"), { type: "uint64", value: 2n ** 40n });
  assert.deepEqual(header.metadata.get("x.flag"), { type: "bool", value: true });
  assert.deepEqual(
    header.tensors.map((t) => [t.name, t.dims, t.type, t.offset]),
    [
      ["norm", [3], "F32", 0],
      ["w", [32, 2], "Q8_0", 64],
    ],
  );
  assert.equal(header.dataOffset % 64, 0);
  assert.equal(expectedGgufFileSize(header), bytes.byteLength);
  const w = bytes.subarray(header.dataOffset + 64, header.dataOffset + 64 + 68);
  const back = decodeTensorData({ type: "Q8_0", data: w });
  for (let i = 0; i < 64; i++) assert.ok(Math.abs(back[i]! - weights[i]!) < 0.02);
});

test("the reader rejects files that are not GGUF", async () => {
  const path = join(dir, "not.gguf");
  writeFileSync(path, "hello, this is not a model");
  await assert.rejects(readGgufHeader({ path }), { name: "ConfigError", code: "invalid_parameter" });
  await assert.rejects(readGgufHeader({ path: join(dir, "missing.gguf") }), { code: "invalid_parameter" });
});

test("dimension/value mismatches are refused", () => {
  assert.throws(
    () => writeGguf({ metadata: [], tensors: [{ name: "t", dims: [4], type: "F32", values: new Float32Array(3) }] }),
    RangeError,
  );
});
