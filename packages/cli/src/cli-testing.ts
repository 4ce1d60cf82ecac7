/**
 * Test helpers for the `verity` command: run it as a separate process (never blocking the test's
 * event loop, so an in-process chain keeps answering), and a chain with the contracts deployed
 * served over JSON-RPC with its deployment file written.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createRpcServer, deploy, writeDeployment } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import type { Deployment, DeployParamsInput } from "@verity/core";

export const VERITY_BIN = fileURLToPath(new URL("./bin.ts", import.meta.url));

/** The environment of a spawned verity: no VERITY_* from the caller's shell, then `env`. */
function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith("VERITY_") || k === "VERITY_CACHE_DIR") out[k] = v;
  return { ...out, ...env };
}

export type VerityRun = {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout's lines parsed as JSON (lines that are not JSON are skipped). */
  json: Record<string, unknown>[];
};

/** Runs `verity …args` to completion. */
export function runVerity(
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<VerityRun> {
  const child = spawn(process.execPath, [VERITY_BIN, ...args], {
    env: cleanEnv(options.env ?? {}),
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += String(d);
  });
  child.stderr.on("data", (d) => {
    stderr += String(d);
  });
  return new Promise((resolve) => {
    child.once("close", (status) => {
      const json: Record<string, unknown>[] = [];
      for (const line of stdout.split("\n")) {
        try {
          json.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not a JSON line
        }
      }
      resolve({ status, stdout, stderr, json });
    });
  });
}

/** Starts a long-running `verity …args --json` and resolves with its ready line. */
export function startVerity(
  args: readonly string[],
  options: { env?: Record<string, string> } = {},
): Promise<{
  child: ChildProcess;
  ready: Record<string, unknown>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}> {
  const child = spawn(process.execPath, [VERITY_BIN, ...args, "--json"], {
    env: cleanEnv(options.env ?? {}),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += String(d);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals = "SIGINT") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (event.event === "ready") resolve({ child, ready: event, stop });
      else if (event.event === "error") {
        child.kill("SIGKILL");
        reject(new Error(line));
      }
    });
    void exited.then((code) => reject(new Error(`verity ${args.join(" ")} exited with ${code}: ${stderr}`)));
  });
}

export type TestNetwork = {
  t: TestChain;
  rpcUrl: string;
  deployment: Deployment;
  deploymentFile: string;
  dir: string;
  key(name: string): `0x${string}`;
  close(): Promise<void>;
};

/** An in-process chain with the contracts deployed, served over HTTP, and its deployment file. */
export async function startTestNetwork(options: { params?: DeployParamsInput } = {}): Promise<TestNetwork> {
  const t = await createTestChain();
  const rpc = createRpcServer({ provider: t.edr.provider, port: 0 });
  const rpcUrl = await rpc.start();
  const deployment = await deploy({
    provider: t.edr.provider,
    deployer: t.account("deployer").privateKey,
    ...(options.params ? { params: options.params } : {}),
  });
  const dir = mkdtempSync(join(tmpdir(), "verity-cli-"));
  const deploymentFile = join(dir, "deployment.json");
  writeDeployment(deploymentFile, deployment);
  return {
    t,
    rpcUrl,
    deployment,
    deploymentFile,
    dir,
    key: (name) => t.account(name).privateKey,
    async close() {
      await rpc.stop();
      await t.close();
    },
  };
}
