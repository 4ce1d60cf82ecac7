/**
 * Named test models generated on demand: a small llama family sharing one tokenizer, so validators
 * and providers can be exercised end to end without downloading anything.
 *
 * - `verity-tiny`: the reference model (F16 weights).
 * - `verity-tiny-q8`, `verity-tiny-q4`: the same weights quantised to Q8_0 / Q4_0.
 * - `verity-tiny-sub`: a cheaper substitute (other seed, smaller dims) with the same tokenizer.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "@verity/core";
import { expectedGgufFileSize, metadataScalar, readGgufHeader } from "./gguf-reader.ts";
import { buildTinyLlamaGguf, type TinyLlamaSpec, tinyLlamaSpecString } from "./tiny-llama.ts";

const base = { nHead: 4, nHeadKv: 4, contextLength: 2048, logitScale: 3 } as const;
const reference = { ...base, seed: 1, nEmbd: 128, nLayer: 4, nFf: 256 } as const;

export const TEST_MODELS = {
  "verity-tiny": { ...reference, name: "verity-tiny", weightType: "F16" },
  "verity-tiny-q8": { ...reference, name: "verity-tiny-q8", weightType: "Q8_0" },
  "verity-tiny-q4": { ...reference, name: "verity-tiny-q4", weightType: "Q4_0" },
  "verity-tiny-sub": { ...base, name: "verity-tiny-sub", seed: 2, nEmbd: 64, nLayer: 2, nFf: 128, weightType: "F16" },
} as const satisfies Record<string, TinyLlamaSpec>;

export type TestModelName = keyof typeof TEST_MODELS;

export function isTestModelName(name: string): name is TestModelName {
  return Object.hasOwn(TEST_MODELS, name);
}

/** `$VERITY_CACHE_DIR/models`, else `.verity/models` at the repository root. */
export function defaultModelCacheDir(): string {
  const root = process.env.VERITY_CACHE_DIR;
  if (root) return join(resolve(root), "models");
  return join(fileURLToPath(new URL("../../..", import.meta.url)), ".verity", "models");
}

/**
 * Path of the named test model's GGUF in `cacheDir`, generating it when missing or stale. Writes go
 * to a temporary file renamed into place, so concurrent callers and crashes never leave a partial file.
 */
export async function ensureTestModel(options: { name: string; cacheDir?: string }): Promise<string> {
  if (!isTestModelName(options.name)) {
    throw new ConfigError(`Unknown test model ${options.name}`, {
      code: "unknown_model",
      hint: `Use one of ${Object.keys(TEST_MODELS).join(", ")}`,
    });
  }
  const spec: TinyLlamaSpec = TEST_MODELS[options.name];
  const dir = options.cacheDir ?? defaultModelCacheDir();
  const path = join(dir, `${spec.name}.gguf`);
  if (await isValidCachedModel({ path, spec })) return path;

  const bytes = buildTinyLlamaGguf(spec);
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.${spec.name}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await writeFile(temp, bytes);
    await rename(temp, path);
  } catch (cause) {
    await rm(temp, { force: true });
    throw new ConfigError(`Cannot write test model ${spec.name} to ${dir}`, {
      code: "invalid_parameter",
      hint: "Check that the cache directory is writable (VERITY_CACHE_DIR)",
      cause,
    });
  }
  return path;
}

async function isValidCachedModel(options: { path: string; spec: TinyLlamaSpec }): Promise<boolean> {
  try {
    const header = await readGgufHeader({ path: options.path });
    return (
      metadataScalar(header, "verity.spec") === tinyLlamaSpecString(options.spec) &&
      expectedGgufFileSize(header) === header.fileSize
    );
  } catch {
    return false;
  }
}
