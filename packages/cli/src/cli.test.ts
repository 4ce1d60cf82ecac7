import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { devnetAccounts } from "@verity/chain";

const bin = fileURLToPath(new URL("./bin.ts", import.meta.url));

function verity(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
}

/** Starts `verity devnet --json` and resolves with the ready line. */
function startDevnet(stateDir: string): Promise<{ child: ChildProcess; ready: Record<string, unknown> }> {
  const child = spawn(process.execPath, [bin, "devnet", "--port", "0", "--json", "--state-dir", stateDir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += String(d);
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      const event = JSON.parse(line) as Record<string, unknown>;
      if (event.event === "ready") resolve({ child, ready: event });
      else if (event.event === "error") reject(new Error(line));
    });
    child.once("exit", (code) => reject(new Error(`devnet exited with ${code}: ${stderr}`)));
  });
}

test("every subcommand has --help with an example", () => {
  const top = verity(["--help"]);
  assert.equal(top.status, 0);
  for (const command of ["devnet", "deploy"]) {
    assert.match(top.stdout, new RegExp(`\\b${command}\\b`));
    const help = verity([command, "--help"]);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /Examples?:/);
  }
});

test("devnet prints a ready line, serves JSON-RPC, accepts a separate deploy, and stops on SIGINT", async () => {
  const stateDir = mkdtempSync(join(tmpdir(), "verity-devnet-"));
  const { child, ready } = await startDevnet(stateDir);
  try {
    assert.equal(ready.chainId, 31337);
    const rpcUrl = String(ready.rpcUrl);
    const accounts = ready.accounts as { role: string; address: string; privateKey: string }[];
    assert.ok(accounts.some((a) => a.role === "provider") && accounts.some((a) => a.role === "client"));
    const deployment = JSON.parse(readFileSync(String(ready.deploymentFile), "utf8")) as { chainId: number };
    assert.equal(deployment.chainId, 31337);

    // A second deployment from another process, over the JSON-RPC endpoint.
    const out = join(stateDir, "second.json");
    const key = devnetAccounts().find((a) => a.name === "provider-6")?.privateKey ?? "";
    const deployed = verity(["deploy", "--rpc", rpcUrl, "--out", out, "--chain-id", "31337", "--json"], {
      VERITY_KEY: key,
    });
    assert.equal(deployed.status, 0, deployed.stdout + deployed.stderr);
    assert.equal(JSON.parse(deployed.stdout).event, "deployed");

    const wrongChain = verity(["deploy", "--rpc", rpcUrl, "--out", out, "--chain-id", "1", "--json"], {
      VERITY_KEY: key,
    });
    assert.notEqual(wrongChain.status, 0);
    assert.equal(JSON.parse(wrongChain.stdout).code, "chain_id_mismatch");
  } finally {
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGINT");
    assert.equal(await exited, 0);
  }
});

test("deploy errors say what to fix and exit non-zero", () => {
  const unreachable = verity(["deploy", "--rpc", "http://127.0.0.1:1", "--key", `0x${"11".repeat(32)}`]);
  assert.notEqual(unreachable.status, 0);
  assert.match(unreachable.stderr, /did not answer.*\[rpc_unreachable\]/s);
  const noKey = verity(["deploy", "--rpc", "http://127.0.0.1:1"], { VERITY_KEY: "" });
  assert.notEqual(noKey.status, 0);
  assert.match(noKey.stderr, /--key/);
  const badPort = verity(["devnet", "--port", "nope"]);
  assert.notEqual(badPort.status, 0);
  assert.match(badPort.stderr, /invalid_parameter/);
});
