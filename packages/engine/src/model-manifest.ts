/**
 * The model manifest: what a provider in front of an external engine serves, pinned. A JSON file
 *
 *   { "name": "Qwen/Qwen2.5-0.5B-Instruct", "weightsDigest": "0x…", "tokenizerDigest": "0x…",
 *     "quantization": "bf16", "engine": { "name": "vllm", "version": "0.8.5" }, "contextLength": 32768 }
 *
 * `name` is the upstream's model id; the two digests are the ModelRegistry entry's
 * `weightsHash`/`tokenizerHash` (so the on-chain model id follows from them); `quantization` is a
 * lowercase label (bf16, fp16, fp8, int8, int4, q8_0, q4_k_m, …) that the provider announces and
 * gateways and clients filter on. The manifest's own hash (`manifestHash`, sha256 of its canonical
 * JSON) is announced with it so a later audit can name exactly what was promised.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError } from "@verity/core";
import { z } from "zod";
import type { Hex32, ModelIdentity } from "./engine.ts";

const hex32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "must be a 0x-prefixed 32-byte hex digest")
  .transform((s) => s.toLowerCase() as Hex32);

export const quantizationSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,31}$/, "must be a lowercase label such as bf16, fp8, int4 or q4_k_m");

export const modelManifestSchema = z.strictObject({
  name: z.string().min(1).max(256),
  weightsDigest: hex32,
  tokenizerDigest: hex32,
  quantization: quantizationSchema,
  engine: z.strictObject({ name: z.string().min(1).max(64), version: z.string().min(1).max(64) }),
  contextLength: z.number().int().positive().max(16_777_216),
});

export type ModelManifest = z.output<typeof modelManifestSchema>;

/** What a provider announces for a manifest (in /v1/models and its registration file). */
export type AnnouncedManifest = ModelManifest & { manifestHash: Hex32 };

/** sha256 over the manifest's canonical JSON (keys in schema order, digests lowercase). */
export function manifestHash(manifest: ModelManifest): Hex32 {
  const canonical = JSON.stringify({
    name: manifest.name,
    weightsDigest: manifest.weightsDigest,
    tokenizerDigest: manifest.tokenizerDigest,
    quantization: manifest.quantization,
    engine: { name: manifest.engine.name, version: manifest.engine.version },
    contextLength: manifest.contextLength,
  });
  return `0x${createHash("sha256").update(canonical).digest("hex")}`;
}

export function announceManifest(manifest: ModelManifest): AnnouncedManifest {
  return { ...manifest, manifestHash: manifestHash(manifest) };
}

export function manifestIdentity(manifest: ModelManifest): ModelIdentity {
  return { weightsHash: manifest.weightsDigest, tokenizerHash: manifest.tokenizerDigest };
}

/** Parses a manifest; errors name `flag` (default `--model`) so the operator knows what to fix. */
export function parseModelManifest(options: { json: unknown; source: string; flag?: string }): ModelManifest {
  const flag = options.flag ?? "--model";
  const parsed = modelManifestSchema.safeParse(options.json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join(".") || "manifest";
    throw new ConfigError(`The model manifest ${options.source} is invalid: ${where} ${issue?.message ?? ""}`.trim(), {
      code: "manifest_invalid",
      hint: `Fix the file given to ${flag}: it needs name, weightsDigest, tokenizerDigest, quantization, engine {name, version} and contextLength`,
      details: { issues: parsed.error.issues },
    });
  }
  return parsed.data;
}

/**
 * Reads and checks a manifest file. With `expectedHash` (a hash pinned elsewhere, e.g. next to a
 * registry entry) a manifest whose `manifestHash` differs is refused.
 */
export function loadModelManifest(options: { path: string; expectedHash?: string; flag?: string }): AnnouncedManifest {
  const flag = options.flag ?? "--model";
  const path = resolve(options.path);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new ConfigError(`Cannot read the model manifest ${path}`, {
      code: "manifest_invalid",
      hint: `Pass an existing manifest JSON file to ${flag}`,
      cause,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError(`The model manifest ${path} is not valid JSON`, {
      code: "manifest_invalid",
      hint: `Fix the file given to ${flag}`,
      cause,
    });
  }
  const announced = announceManifest(parseModelManifest({ json, source: path, flag }));
  if (options.expectedHash !== undefined && options.expectedHash.toLowerCase() !== announced.manifestHash) {
    throw new ConfigError(`The model manifest ${path} hashes to ${announced.manifestHash}, not the pinned hash`, {
      code: "manifest_invalid",
      hint: `Pass the manifest the hash was taken of to ${flag}`,
      details: { expected: options.expectedHash, actual: announced.manifestHash },
    });
  }
  return announced;
}

/**
 * Checks a manifest against what the upstream itself reports in `GET /v1/models` (digests when it
 * states them, as a Verity engine server or provider does; the context length when it states one).
 */
export function checkManifestAgainstUpstream(options: {
  manifest: ModelManifest;
  reported: { weightsHash?: string; tokenizerHash?: string; contextSize?: number };
  upstream: string;
  flag?: string;
}): void {
  const flag = options.flag ?? "--model";
  const { manifest, reported } = options;
  const mismatches: string[] = [];
  if (reported.weightsHash !== undefined && reported.weightsHash.toLowerCase() !== manifest.weightsDigest)
    mismatches.push(`weightsDigest ${manifest.weightsDigest} but the upstream reports ${reported.weightsHash}`);
  if (reported.tokenizerHash !== undefined && reported.tokenizerHash.toLowerCase() !== manifest.tokenizerDigest)
    mismatches.push(`tokenizerDigest ${manifest.tokenizerDigest} but the upstream reports ${reported.tokenizerHash}`);
  if (reported.contextSize !== undefined && reported.contextSize < manifest.contextLength)
    mismatches.push(`contextLength ${manifest.contextLength} but the upstream serves ${reported.contextSize}`);
  if (mismatches.length > 0) {
    throw new ConfigError(
      `The manifest for ${manifest.name} does not match the upstream ${options.upstream}: ${mismatches.join("; ")}`,
      {
        code: "manifest_mismatch",
        hint: `Fix the manifest given to ${flag} (or point --upstream at the server that runs the pinned model)`,
        details: { mismatches },
      },
    );
  }
}
