import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError } from "@verity/core";
import { resolveModelFile } from "node-llama-cpp";
import type { Engine } from "./engine.ts";
import { createLlamaCppEngine } from "./llama-cpp-engine.ts";
import { defaultModelCacheDir, ensureTestModel, isTestModelName, TEST_MODELS } from "./test-models.ts";

/**
 * Loads the engine for a model spec, the way every role names a model:
 * - `test:<name>` or a bare test-model name — a tiny GGUF Verity generates itself (devnets, tests);
 * - a path to a `.gguf` file;
 * - `hf:<user>/<repo>[:quant]` or an https URL — resolved (downloaded once) by node-llama-cpp.
 * All of them load through the same llama.cpp path.
 */
export async function loadModelSpec(options: {
  spec: string;
  cacheDir?: string;
  contextSize?: number;
  onProgress?: (line: string) => void;
}): Promise<Engine> {
  const spec = options.spec.trim();
  const name = spec.startsWith("test:") ? spec.slice(5) : spec;
  let modelPath: string;
  if (isTestModelName(name)) {
    modelPath = await ensureTestModel({
      name,
      ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }),
    });
  } else if (spec.startsWith("test:")) {
    throw new ConfigError(`No test model named ${name}`, {
      code: "unknown_model",
      hint: `Test models: ${Object.keys(TEST_MODELS).join(", ")}`,
    });
  } else if (spec.startsWith("hf:") || spec.startsWith("https://")) {
    options.onProgress?.(`resolving ${spec} (downloads once into ${options.cacheDir ?? defaultModelCacheDir()})`);
    try {
      modelPath = await resolveModelFile(spec, { directory: options.cacheDir ?? defaultModelCacheDir(), cli: false });
    } catch (cause) {
      throw new ConfigError(`Could not fetch model ${spec}`, {
        code: "unknown_model",
        hint: "Check the URI and network access, or download the GGUF yourself and pass its path",
        cause,
      });
    }
  } else {
    modelPath = resolve(spec);
    if (!existsSync(modelPath)) {
      throw new ConfigError(`No model file at ${modelPath}`, {
        code: "unknown_model",
        hint: "Pass a GGUF path, an hf:<user>/<repo> URI, or test:verity-tiny on a devnet",
      });
    }
  }
  return createLlamaCppEngine({
    modelPath,
    ...(options.contextSize === undefined ? {} : { contextSize: options.contextSize }),
  });
}
