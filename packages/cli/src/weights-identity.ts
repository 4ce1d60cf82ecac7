import { existsSync } from "node:fs";
import { basename, resolve } from "node:path";
import { ConfigError } from "@verity/core";
import {
  computeModelIdentity,
  ensureTestModel,
  isTestModelName,
  loadModelSpec,
  type ModelIdentity,
  metadataScalar,
  readGgufHeader,
  TEST_MODELS,
} from "@verity/engine";

/**
 * The on-chain identity of a model's weights (what `ModelRegistry` registers and a provider serving
 * the same file computes): `test:<name>` (a generated test model), a local GGUF path, or an
 * `hf:`/https URI (downloaded once and loaded, as the provider does). The name is the GGUF's
 * `general.name`, else the file name.
 */
export async function identifyWeights(args: {
  spec: string;
  onProgress?: (line: string) => void;
}): Promise<{ name: string; identity: ModelIdentity }> {
  const spec = args.spec.trim();
  if (spec.startsWith("hf:") || spec.startsWith("https://")) {
    const engine = await loadModelSpec({ spec, ...(args.onProgress ? { onProgress: args.onProgress } : {}) });
    try {
      return { name: engine.name, identity: engine.identity };
    } finally {
      await engine.close();
    }
  }
  const testName = spec.startsWith("test:") ? spec.slice(5) : spec;
  let path: string;
  if (isTestModelName(testName)) path = await ensureTestModel({ name: testName });
  else if (spec.startsWith("test:")) {
    throw new ConfigError(`No test model named ${testName}`, {
      code: "unknown_model",
      hint: `Test models: ${Object.keys(TEST_MODELS).join(", ")}`,
    });
  } else {
    path = resolve(spec);
    if (!existsSync(path)) {
      throw new ConfigError(`No model file at ${path}`, {
        code: "unknown_model",
        hint: "Pass --weights with a GGUF path, an hf:<user>/<repo> URI, or test:verity-tiny",
      });
    }
  }
  const header = await readGgufHeader({ path });
  const general = metadataScalar(header, "general.name");
  return {
    name: typeof general === "string" && general !== "" ? general : basename(path).replace(/\.gguf$/i, ""),
    identity: await computeModelIdentity({ path, header }),
  };
}
