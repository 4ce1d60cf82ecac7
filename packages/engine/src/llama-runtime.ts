/**
 * The process-wide llama.cpp runtime. node-llama-cpp binds one native library per `Llama` instance,
 * so every engine in a process shares this one. It always uses the prebuilt CPU binary that npm
 * installed (`@node-llama-cpp/<platform>`): no GPU probing, no download, no source build.
 */

import { ConfigError } from "@verity/core";
import { getLlama, type Llama, LlamaLogLevel } from "node-llama-cpp";

let shared: Promise<Llama> | undefined;

export function llamaRuntime(): Promise<Llama> {
  shared ??= getLlama({
    gpu: false,
    build: "never",
    usePrebuiltBinaries: true,
    skipDownload: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.warn,
    logger: (level, message) => {
      if (level === LlamaLogLevel.fatal || level === LlamaLogLevel.error || level === LlamaLogLevel.warn) {
        process.stderr.write(`llama.cpp ${level}: ${message.trimEnd()}\n`);
      }
    },
  }).catch((cause: unknown) => {
    shared = undefined;
    throw new ConfigError("Cannot load the llama.cpp runtime", {
      code: "internal_error",
      hint: "Reinstall with `npm install` under Node 24 so the prebuilt @node-llama-cpp binary for this platform is present",
      cause,
    });
  });
  return shared;
}
