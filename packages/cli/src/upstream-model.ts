/**
 * `verity provider start --upstream <url> --model <manifest.json>`: the engine for a model that an
 * external OpenAI-compatible server (vLLM, SGLang, Ollama, llama.cpp server) runs, checked before
 * anything is written or sent on-chain: the manifest parses, the upstream answers like an OpenAI
 * server, lists the manifest's model, and reports no other digests or a smaller context.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { BaseError, ConfigError } from "@verity/core";
import {
  type AnnouncedManifest,
  checkManifestAgainstUpstream,
  createOpenAIUpstreamEngine,
  loadModelManifest,
  manifestIdentity,
  type OpenAIUpstreamEngine,
} from "@verity/engine";

export type UpstreamModel = { engine: OpenAIUpstreamEngine; manifest: AnnouncedManifest };

/** The upstream's API key: from `--upstream-key-file` or VERITY_UPSTREAM_KEY; never from argv. */
export function readUpstreamKey(args: { keyFile?: string | undefined; key?: string | undefined }): string | undefined {
  if (args.key !== undefined) {
    throw new ConfigError(
      "The upstream API key is not accepted on the command line (anyone on the machine can read it)",
      {
        code: "key_in_argv",
        hint: "Put it in a file readable only by you and pass --upstream-key-file <file>, or set VERITY_UPSTREAM_KEY",
      },
    );
  }
  if (args.keyFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(resolve(args.keyFile), "utf8");
    } catch (cause) {
      throw new ConfigError(`Cannot read the upstream key file ${args.keyFile}`, {
        code: "invalid_parameter",
        hint: "Fix --upstream-key-file: a file holding the upstream's API key on one line",
        cause,
      });
    }
    const key = text.trim();
    if (key.length === 0 || /\s/.test(key)) {
      throw new ConfigError(`The upstream key file ${args.keyFile} does not hold one key`, {
        code: "invalid_parameter",
        hint: "Fix --upstream-key-file: write the key alone on one line",
      });
    }
    return key;
  }
  const env = process.env.VERITY_UPSTREAM_KEY?.trim();
  return env ? env : undefined;
}

/** Re-raises an upstream failure as a ConfigError whose hint names the flag to fix. */
function namingFlag(error: unknown, upstream: string): unknown {
  if (!(error instanceof BaseError)) return error;
  const flagFor: Record<string, string> = {
    upstream_unreachable: `Fix --upstream: nothing answered at ${upstream} (is the engine running, on that host and port?)`,
    upstream_error: `Fix --upstream: ${upstream} is not an OpenAI-compatible server (GET /v1/models must list models), or check --upstream-key-file`,
    invalid_parameter: "Fix --upstream: give the server's base URL, e.g. http://127.0.0.1:8000/v1",
    unknown_model: `Fix --model: the manifest's name must be a model id the upstream lists. ${error.hint ?? ""}`.trim(),
  };
  const hint = flagFor[error.code];
  if (hint === undefined) return error;
  return new ConfigError(error.message, { code: error.code, hint, details: error.details, cause: error });
}

export async function loadUpstreamModel(options: {
  upstream: string;
  manifestPath: string;
  apiKey?: string;
  probeIntervalMs?: number;
}): Promise<UpstreamModel> {
  const manifest = loadModelManifest({ path: options.manifestPath, flag: "--model" });
  let engine: OpenAIUpstreamEngine;
  try {
    engine = await createOpenAIUpstreamEngine({
      baseUrl: options.upstream,
      model: manifest.name,
      identity: manifestIdentity(manifest),
      contextSize: manifest.contextLength,
      ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
    });
  } catch (error) {
    throw namingFlag(error, options.upstream);
  }
  try {
    checkManifestAgainstUpstream({ manifest, reported: engine.reported, upstream: engine.baseUrl, flag: "--model" });
  } catch (error) {
    await engine.close();
    throw error;
  }
  return { engine, manifest };
}
