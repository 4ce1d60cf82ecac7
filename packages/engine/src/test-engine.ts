/** An engine on a named test model (generated into the cache on first use). */
import type { Engine } from "./engine.ts";
import { createLlamaCppEngine } from "./llama-cpp-engine.ts";
import { ensureTestModel } from "./test-models.ts";

export async function createTestEngine(options: {
  name: string;
  cacheDir?: string;
  contextSize?: number;
}): Promise<Engine> {
  const modelPath = await ensureTestModel({
    name: options.name,
    ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }),
  });
  return createLlamaCppEngine({
    modelPath,
    ...(options.contextSize === undefined ? {} : { contextSize: options.contextSize }),
  });
}
