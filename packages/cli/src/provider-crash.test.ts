import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createRpcServer, deploy, writeDeployment } from "@verity/chain";
import { channelViewOf, createTestChain, type TestChain } from "@verity/chain/testing";
import { paymentChannelsAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import { createTestEngine } from "@verity/engine";
import OpenAI from "openai";
import { parseEventLogs } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { mintTestUSD, openTestChannel, registerTestModel } from "../../provider/src/testing.ts";
import { createVoucherFetch } from "../../sdk/src/voucher-fetch.ts";

const bin = fileURLToPath(new URL("./bin.ts", import.meta.url));
let t: TestChain;
let rpc: ReturnType<typeof createRpcServer>;
let rpcUrl: string;
let deployment: Deployment;
let deploymentFile: string;
const dataDir = mkdtempSync(join(tmpdir(), "verity-crash-"));
/** Every provider process started, so a failed test leaves none running. */
const children = new Set<ChildProcess>();

before(async () => {
  t = await createTestChain();
  rpc = createRpcServer({ provider: t.edr.provider, port: 0 });
  rpcUrl = await rpc.start();
  deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  deploymentFile = join(dataDir, "deployment.json");
  writeDeployment(deploymentFile, deployment);
  const engine = await createTestEngine({ name: "verity-tiny" });
  await registerTestModel(t, deployment, engine);
  await engine.close();
  await mintTestUSD(t, deployment, "provider-2", 1_000_000_000n);
  await mintTestUSD(t, deployment, "provider-3", 1_000_000_000n);
});
after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await rpc.stop();
  await t.close();
});

function startProvider(node: { account: string; dir: string } = { account: "provider-2", dir: "provider" }): Promise<{
  child: ChildProcess;
  ready: { url: string; agentId: string; models: { modelId: string }[] };
}> {
  const child = spawn(
    process.execPath,
    [
      bin,
      "provider",
      "start",
      "--model",
      "test:verity-tiny",
      "--rpc",
      rpcUrl,
      "--deployment",
      deploymentFile,
      "--port",
      "0",
      "--data-dir",
      join(dataDir, node.dir),
      "--claim-min",
      "1000",
      "--claim-max-age",
      "1s",
      "--json",
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, VERITY_KEY: t.account(node.account).privateKey } },
  );
  children.add(child);
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += String(d);
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const event = JSON.parse(line);
      if (event.event === "ready") resolve({ child, ready: event });
      if (event.event === "error") reject(new Error(line));
    });
    child.once("exit", (code) => reject(new Error(`provider exited with ${code}: ${stderr}`)));
  });
}

test("a provider killed with SIGKILL mid-stream loses nothing owed and claims every completed request exactly once", async () => {
  const first = await startProvider();
  const modelId = BigInt(first.ready.models[0]?.modelId ?? 0);
  const agentId = BigInt(first.ready.agentId);
  const channelId = await openTestChannel({ t, deployment, payer: "client-1", agentId, modelId, amount: 10_000_000n });
  const charges: bigint[] = [];
  const payer = createVoucherFetch({
    channelId,
    authorizer: privateKeyToAccount(t.account("client-1").privateKey),
    chainId: deployment.chainId,
    paymentChannels: deployment.contracts.PaymentChannels.address,
    headroom: 10_000n,
    onReceipt: ({ receipt }) => charges.push(BigInt(receipt.receipt.charge)),
  });
  const client = new OpenAI({ baseURL: `${first.ready.url}/v1`, apiKey: "x", fetch: payer.fetch, maxRetries: 0 });
  for (let i = 0; i < 3; i++) {
    await client.chat.completions.create({
      model: "verity-tiny",
      messages: [{ role: "user", content: `request ${i}` }],
      max_tokens: 16,
    });
  }
  const done = await client.chat.completions.create({
    model: "verity-tiny",
    messages: [{ role: "user", content: "a stream" }],
    max_tokens: 16,
    stream: true,
  });
  for await (const _ of done) {
    // read to the end
  }
  assert.equal(charges.length, 4);

  // A long stream, killed as soon as its first token arrives.
  const killed = await client.chat.completions.create({
    model: "verity-tiny",
    messages: [{ role: "user", content: "a long story" }],
    max_tokens: 400,
    stream: true,
  });
  const exited = new Promise((resolve) => first.child.once("exit", resolve));
  let sawReceipt = false;
  try {
    for await (const chunk of killed) {
      if ((chunk as unknown as { verity?: unknown }).verity) sawReceipt = true;
      if (chunk.choices[0]?.delta?.content) first.child.kill("SIGKILL");
    }
  } catch {
    // the connection dies with the process
  }
  await exited;
  assert.equal(sawReceipt, false, "the killed stream must not have completed");
  const owed = charges.reduce((a, b) => a + b, 0n);

  const second = await startProvider();
  assert.equal(second.ready.agentId, first.ready.agentId, "the agent is registered once");
  const address = deployment.contracts.PaymentChannels.address;
  let claimed = 0n;
  for (let i = 0; i < 100 && claimed < owed; i++) {
    await new Promise((r) => setTimeout(r, 200));
    claimed = (await channelViewOf({ publicClient: t.publicClient, paymentChannels: address, channelId })).claimed;
  }
  assert.equal(claimed, owed, "every completed request is claimed, the killed one is not charged");
  await new Promise((r) => setTimeout(r, 2_500));
  const logs = await t.publicClient.getLogs({ address, fromBlock: 0n });
  const claims = parseEventLogs({ abi: paymentChannelsAbi, logs, eventName: "Claimed" }).filter(
    (l) => l.args.channelId === channelId,
  );
  assert.equal(claims.length, 1, "claimed exactly once");
  assert.equal(claims[0]?.args.increase, owed);
  const stopped = new Promise<number | null>((resolve) => second.child.once("exit", resolve));
  second.child.kill("SIGTERM");
  assert.equal(await stopped, 0);
});

test("a provider killed with SIGKILL after a client aborted a stream still claims what the abort was charged", async () => {
  const node = { account: "provider-3", dir: "provider-abort" };
  const first = await startProvider(node);
  const modelId = BigInt(first.ready.models[0]?.modelId ?? 0);
  const agentId = BigInt(first.ready.agentId);
  const channelId = await openTestChannel({ t, deployment, payer: "client-2", agentId, modelId, amount: 10_000_000n });
  const payer = createVoucherFetch({
    channelId,
    authorizer: privateKeyToAccount(t.account("client-2").privateKey),
    chainId: deployment.chainId,
    paymentChannels: deployment.contracts.PaymentChannels.address,
    headroom: 10_000n,
  });
  const client = new OpenAI({ baseURL: `${first.ready.url}/v1`, apiKey: "x", fetch: payer.fetch, maxRetries: 0 });
  const health = async () =>
    (await (await fetch(`${first.ready.url}/health`)).json()) as { requests: number; charged: string };

  // The client reads a few pieces of a long answer and hangs up: the provider charges what it delivered.
  const controller = new AbortController();
  const aborted = await client.chat.completions.create(
    { model: "verity-tiny", messages: [{ role: "user", content: "a long story" }], max_tokens: 400, stream: true },
    { signal: controller.signal },
  );
  let pieces = 0;
  try {
    for await (const chunk of aborted) if (chunk.choices[0]?.delta?.content && ++pieces === 3) controller.abort();
  } catch {
    // aborted by the client
  }
  assert.equal(pieces, 3);
  let persisted = await health();
  for (let i = 0; i < 100 && persisted.requests === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    persisted = await health();
  }
  assert.equal(persisted.requests, 1, "the aborted stream was charged and persisted");
  const owed = BigInt(persisted.charged);
  assert.ok(owed > 0n);

  // Then the process dies in the middle of another stream.
  const killed = await client.chat.completions.create({
    model: "verity-tiny",
    messages: [{ role: "user", content: "another long story" }],
    max_tokens: 400,
    stream: true,
  });
  const exited = new Promise((resolve) => first.child.once("exit", resolve));
  try {
    for await (const chunk of killed) if (chunk.choices[0]?.delta?.content) first.child.kill("SIGKILL");
  } catch {
    // the connection dies with the process
  }
  await exited;

  const second = await startProvider(node);
  const address = deployment.contracts.PaymentChannels.address;
  let claimed = 0n;
  for (let i = 0; i < 100 && claimed < owed; i++) {
    await new Promise((r) => setTimeout(r, 200));
    claimed = (await channelViewOf({ publicClient: t.publicClient, paymentChannels: address, channelId })).claimed;
  }
  assert.equal(claimed, owed, "the aborted stream's charge survives the kill and is claimed");
  const stopped = new Promise<number | null>((resolve) => second.child.once("exit", resolve));
  second.child.kill("SIGTERM");
  assert.equal(await stopped, 0);
});
