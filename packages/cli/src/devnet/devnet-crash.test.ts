import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import type { DevnetReady } from "./devnet.ts";

const bin = fileURLToPath(new URL("../bin.ts", import.meta.url));

/** Starts `verity devnet --json` on `stateDir` and resolves with its ready line. */
function startDevnet(stateDir: string): Promise<{ child: ChildProcess; ready: DevnetReady }> {
  const child = spawn(
    process.execPath,
    [bin, "devnet", "--port", "0", "--providers", "2", "--json", "--state-dir", stateDir],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += String(d);
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const event = JSON.parse(line) as { event: string };
      if (event.event === "ready") resolve({ child, ready: event as DevnetReady });
      else if (event.event === "error") {
        child.kill("SIGKILL");
        reject(new Error(line));
      }
    });
    child.once("exit", (code) => reject(new Error(`devnet exited with ${code}: ${stderr}`)));
  });
}

async function balance(ready: DevnetReady): Promise<bigint> {
  const response = await fetch(`${ready.gatewayUrl}/v1/balance`, {
    headers: { authorization: `Bearer ${ready.gatewayApiKey}` },
  });
  return BigInt(((await response.json()) as { balance: string }).balance);
}

async function chat(ready: DevnetReady): Promise<void> {
  const client = new OpenAI({ baseURL: `${ready.gatewayUrl}/v1`, apiKey: ready.gatewayApiKey, maxRetries: 0 });
  const completion = await client.chat.completions.create({
    model: "verity-tiny",
    messages: [{ role: "user", content: "survive a crash" }],
    max_tokens: 8,
  });
  assert.ok((completion.usage?.completion_tokens ?? 0) > 0);
}

test("a devnet killed with SIGKILL resumes from its state folder: same deployment, agents and funded API key", async () => {
  const stateDir = mkdtempSync(join(tmpdir(), "verity-devnet-crash-"));
  const first = await startDevnet(stateDir);
  let before: bigint;
  try {
    await chat(first.ready);
    before = await balance(first.ready);
  } finally {
    const exited = new Promise((resolve) => first.child.once("exit", resolve));
    first.child.kill("SIGKILL");
    await exited;
  }
  const second = await startDevnet(stateDir);
  try {
    const { ready } = second;
    assert.equal(ready.restored, true);
    assert.deepEqual(ready.deployment, first.ready.deployment);
    assert.deepEqual(
      ready.providers.map((p) => p.agentId),
      first.ready.providers.map((p) => p.agentId),
    );
    assert.equal(ready.gatewayApiKey, first.ready.gatewayApiKey);
    assert.equal(await balance(ready), before);
    await chat(ready);
    assert.ok((await balance(ready)) < before);
  } finally {
    const exited = new Promise<number | null>((resolve) => second.child.once("exit", resolve));
    second.child.kill("SIGINT");
    assert.equal(await exited, 0);
  }
});
