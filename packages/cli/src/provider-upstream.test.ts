/**
 * `verity provider start --upstream`: each bad input (an upstream that does not answer or is not an
 * OpenAI server, a manifest that is malformed or pins other digests, a key on argv) is one clear
 * error naming the flag to fix, a non-zero exit, and nothing written (no data dir).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type EngineServerProcess, startEngineServerProcess } from "../../engine/src/engine-server-process.ts";
import { runVerity } from "./cli-testing.ts";

let engine: EngineServerProcess;
let manifest: Record<string, unknown>;
const dir = mkdtempSync(join(tmpdir(), "verity-upstream-cli-"));
const html = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/html" }).end("<html><body>It works!</body></html>");
});

before(async () => {
  engine = await startEngineServerProcess();
  const listed = (await (await fetch(`${engine.url}/v1/models`)).json()) as {
    data: { id: string; verity: { weightsHash: string; tokenizerHash: string; contextSize: number } }[];
  };
  const entry = listed.data[0];
  assert.ok(entry);
  manifest = {
    name: entry.id,
    weightsDigest: entry.verity.weightsHash,
    tokenizerDigest: entry.verity.tokenizerHash,
    quantization: "f16",
    engine: { name: "verity-engine-server", version: "0.1.0" },
    contextLength: entry.verity.contextSize,
  };
  await new Promise<void>((resolve) => html.listen(0, "127.0.0.1", () => resolve()));
});

after(async () => {
  await engine?.kill();
  html.closeAllConnections();
  html.close();
});

function manifestFile(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

async function refused(args: { upstream: string; model: string; extra?: string[] }, code: string, flag: string) {
  const dataDir = join(dir, `data-${code}-${Math.random().toString(36).slice(2)}`);
  const run = await runVerity([
    "provider",
    "start",
    "--upstream",
    args.upstream,
    "--model",
    args.model,
    "--data-dir",
    dataDir,
    "--deployment",
    join(dir, "no-deployment.json"),
    ...(args.extra ?? []),
    "--json",
  ]);
  assert.notEqual(run.status, 0, run.stdout + run.stderr);
  const error = run.json.find((l) => l.event === "error");
  assert.ok(error, run.stdout + run.stderr);
  assert.equal(error.code, code, JSON.stringify(error));
  assert.ok(`${error.message} ${error.hint}`.includes(flag), `names ${flag}: ${JSON.stringify(error)}`);
  assert.equal(existsSync(dataDir), false, "nothing written");
}

test("an unreachable upstream is upstream_unreachable naming --upstream", async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", () => resolve()));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  await refused(
    { upstream: `http://127.0.0.1:${port}/v1`, model: manifestFile("ok.json", manifest) },
    "upstream_unreachable",
    "--upstream",
  );
});

test("a server that is not OpenAI-compatible is upstream_error naming --upstream", async () => {
  const port = (html.address() as AddressInfo).port;
  await refused(
    { upstream: `http://127.0.0.1:${port}/v1`, model: manifestFile("ok.json", manifest) },
    "upstream_error",
    "--upstream",
  );
});

test("a manifest whose digest differs from what the upstream reports is manifest_mismatch naming --model", async () => {
  const wrong = manifestFile("wrong.json", { ...manifest, weightsDigest: `0x${"ab".repeat(32)}` });
  await refused({ upstream: `${engine.url}/v1`, model: wrong }, "manifest_mismatch", "--model");
});

test("a malformed manifest or one naming a model the upstream does not serve names --model", async () => {
  await refused(
    { upstream: `${engine.url}/v1`, model: manifestFile("bad.json", "{not json") },
    "manifest_invalid",
    "--model",
  );
  const noQuant = { ...manifest } as Record<string, unknown>;
  delete noQuant.quantization;
  await refused(
    { upstream: `${engine.url}/v1`, model: manifestFile("noq.json", noQuant) },
    "manifest_invalid",
    "--model",
  );
  await refused(
    { upstream: `${engine.url}/v1`, model: manifestFile("other.json", { ...manifest, name: "llama-70b" }) },
    "unknown_model",
    "--model",
  );
});

test("an upstream key on the command line is refused (key_in_argv), a key file is the way", async () => {
  await refused(
    { upstream: `${engine.url}/v1`, model: manifestFile("ok.json", manifest), extra: ["--upstream-key", "sk-secret"] },
    "key_in_argv",
    "--upstream-key-file",
  );
});
