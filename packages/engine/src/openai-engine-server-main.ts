/**
 * Runs the OpenAI-compatible engine server as its own process:
 *
 *   node packages/engine/src/openai-engine-server-main.ts --model test:verity-tiny [--host 127.0.0.1] [--port 0]
 *
 * Prints one JSON line `{"event":"ready","url":…,"model":…}` on stdout once it listens.
 */
import { parseArgs } from "node:util";
import { loadModelSpec } from "./model-spec.ts";
import { startOpenAIEngineServer } from "./openai-engine-server.ts";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "test:verity-tiny" },
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "0" },
  },
});
const engine = await loadModelSpec({ spec: values.model });
const server = await startOpenAIEngineServer({ engine, host: values.host, port: Number(values.port) });
process.stdout.write(`${JSON.stringify({ event: "ready", url: server.url, model: engine.name })}\n`);
const stop = async () => {
  await server.close();
  await engine.close();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
