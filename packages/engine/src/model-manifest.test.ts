import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type BaseError, ConfigError } from "@verity/core";
import { checkManifestAgainstUpstream, loadModelManifest, manifestHash, parseModelManifest } from "./model-manifest.ts";

const manifest = {
  name: "Qwen/Qwen2.5-0.5B-Instruct",
  weightsDigest: `0x${"AB".repeat(32)}`,
  tokenizerDigest: `0x${"cd".repeat(32)}`,
  quantization: "bf16",
  engine: { name: "vllm", version: "0.8.5" },
  contextLength: 32768,
};
const dir = mkdtempSync(join(tmpdir(), "verity-manifest-"));

function code(error: unknown, expected: string): boolean {
  assert.ok(error instanceof ConfigError, String(error));
  assert.equal((error as BaseError).code, expected, (error as BaseError).message);
  assert.match(`${(error as BaseError).message} ${(error as BaseError).hint}`, /--model/);
  return true;
}

test("a manifest file loads with lowercase digests and a hash that ignores key order and whitespace", () => {
  const path = join(dir, "m.json");
  writeFileSync(path, JSON.stringify(manifest, null, 2));
  const loaded = loadModelManifest({ path });
  assert.equal(loaded.weightsDigest, `0x${"ab".repeat(32)}`);
  const reordered = join(dir, "r.json");
  const { engine, ...rest } = manifest;
  writeFileSync(reordered, JSON.stringify({ engine, ...rest }));
  assert.equal(loadModelManifest({ path: reordered }).manifestHash, loaded.manifestHash);
  assert.equal(loadModelManifest({ path, expectedHash: loaded.manifestHash }).manifestHash, loaded.manifestHash);
  assert.throws(
    () => loadModelManifest({ path, expectedHash: `0x${"00".repeat(32)}` }),
    (e) => code(e, "manifest_invalid"),
  );
  assert.notEqual(manifestHash({ ...loaded, quantization: "int4" }), loaded.manifestHash, "the quantization is pinned");
});

test("missing fields, unknown fields, bad digests and bad labels are manifest_invalid", () => {
  const bad = [
    { ...manifest, quantization: undefined },
    { ...manifest, quantization: "BF 16" },
    { ...manifest, weightsDigest: "0x1234" },
    { ...manifest, contextLength: 0 },
    { ...manifest, engine: { name: "vllm" } },
    { ...manifest, extra: true },
  ];
  for (const json of bad)
    assert.throws(
      () => parseModelManifest({ json, source: "t" }),
      (e) => code(e, "manifest_invalid"),
    );
  assert.throws(
    () => loadModelManifest({ path: join(dir, "missing.json") }),
    (e) => code(e, "manifest_invalid"),
  );
});

test("an upstream reporting other digests or a smaller context is manifest_mismatch; unreported values pass", () => {
  const m = parseModelManifest({ json: manifest, source: "t" });
  checkManifestAgainstUpstream({ manifest: m, reported: {}, upstream: "u" });
  checkManifestAgainstUpstream({
    manifest: m,
    reported: { weightsHash: manifest.weightsDigest, contextSize: 65536 },
    upstream: "u",
  });
  for (const reported of [
    { weightsHash: `0x${"00".repeat(32)}` },
    { tokenizerHash: `0x${"00".repeat(32)}` },
    { contextSize: 4096 },
  ]) {
    assert.throws(
      () => checkManifestAgainstUpstream({ manifest: m, reported, upstream: "u" }),
      (e) => code(e, "manifest_mismatch"),
    );
  }
});
