import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { currentReceiverSigner, devnetAccounts, devnetChain } from "@verity/chain";
import { paymentChannelsAbi, testUSDAbi } from "@verity/contracts";
import { type ChannelConfig, channelIdOf, type Deployment } from "@verity/core";
import OpenAI from "openai";
import { createPublicClient, createWalletClient, http, keccak256, maxUint256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { createVoucherFetch } from "../../sdk/src/voucher-fetch.ts";

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
      else if (event.event === "error") {
        child.kill("SIGKILL");
        reject(new Error(line));
      }
    });
    child.once("exit", (code) => reject(new Error(`devnet exited with ${code}: ${stderr}`)));
  });
}

/** Command names listed under "Commands:" in a help text (without `help`). */
function listedCommands(help: string): string[] {
  const section = help.split(/^Commands:\n/m)[1]?.split(/\n\n/)[0] ?? "";
  return [...section.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1] as string).filter((name) => name !== "help");
}

function verityAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += String(d);
  });
  child.stderr.on("data", (d) => {
    stderr += String(d);
  });
  return new Promise((resolve) => child.once("close", (status) => resolve({ status, stdout, stderr })));
}

test("verity --help lists every role and task, and every command's --help has an example", async () => {
  const top = verity(["--help"]);
  assert.equal(top.status, 0);
  const roles = listedCommands(top.stdout);
  for (const name of [
    "devnet",
    "chain",
    "deploy",
    "provider",
    "gateway",
    "model",
    "wallet",
    "channel",
    "quote",
    "bench",
    "oracle",
    "data",
    "context",
  ]) {
    assert.ok(roles.includes(name), `verity --help lists ${name}`);
  }
  // Walk the command tree through the help texts themselves, so commands registered later (e.g.
  // `validator start`) are covered too; two help processes at a time.
  const leaves: string[] = [];
  const groups = new Map<string, string[]>();
  let pending = roles.map((name) => [name]);
  while (pending.length > 0) {
    const batch = pending;
    pending = [];
    for (let i = 0; i < batch.length; i += 2) {
      const paths = batch.slice(i, i + 2);
      const helps = await Promise.all(paths.map((path) => verityAsync([...path, "--help"])));
      helps.forEach((help, j) => {
        const path = paths[j] as string[];
        assert.equal(help.status, 0, `${path.join(" ")} --help: ${help.stderr}`);
        const subcommands = listedCommands(help.stdout);
        if (subcommands.length === 0) {
          leaves.push(path.join(" "));
          assert.match(help.stdout, /Examples?:/, `verity ${path.join(" ")} --help has an example`);
        } else {
          groups.set(path.join(" "), subcommands);
          pending.push(...subcommands.map((sub) => [...path, sub]));
        }
      });
    }
  }
  for (const command of [
    "devnet",
    "chain",
    "deploy",
    "provider start",
    "provider status",
    "gateway start",
    "model register",
    "model list",
    "model credit-dataset",
    "data register",
    "data earnings",
    "wallet new",
    "wallet balance",
    "wallet faucet",
    "channel open",
    "channel status",
    "channel close",
    "quote",
    "bench",
    ...(roles.includes("validator") ? ["validator start"] : []),
    "oracle serve",
    "provider withdraw",
    "model withdraw-royalties",
    "context put",
    "context get",
    "context export",
  ]) {
    assert.ok(leaves.includes(command), `verity ${command} exists and its --help was checked`);
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
    const deployment = JSON.parse(readFileSync(String(ready.deploymentFile), "utf8")) as Deployment;
    assert.equal(deployment.chainId, 31337);
    const providers = ready.providers as {
      agentId: string;
      url: string;
      model: string;
      modelId: string;
      priceIn: string;
      priceOut: string;
    }[];
    assert.ok(providers.length >= 2);
    assert.notEqual(providers[0]?.priceOut, providers[1]?.priceOut);
    await payOneRequest({ rpcUrl, deployment, provider: providers[0] as (typeof providers)[number] });
    const gateway = new OpenAI({
      baseURL: `${String(ready.gatewayUrl)}/v1`,
      apiKey: String(ready.gatewayApiKey),
      maxRetries: 0,
    });
    const viaGateway = await gateway.chat.completions.create({
      model: "verity-tiny",
      messages: [{ role: "user", content: "via the gateway" }],
      max_tokens: 8,
    });
    assert.ok((viaGateway.usage?.completion_tokens ?? 0) > 0);

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

test("devnet flags are checked before anything starts", () => {
  const badPort = verity(["devnet", "--port", "nope"]);
  assert.notEqual(badPort.status, 0);
  assert.match(badPort.stderr, /invalid_parameter/);
});

/** Opens a channel over JSON-RPC as client-6 and pays one chat completion with the openai client. */
async function payOneRequest(args: {
  rpcUrl: string;
  deployment: Deployment;
  provider: { agentId: string; url: string; modelId: string };
}) {
  const chain = devnetChain({ rpcUrl: args.rpcUrl });
  const key = devnetAccounts().find((a) => a.name === "client-6")?.privateKey ?? "0x";
  const account = privateKeyToAccount(key as `0x${string}`);
  const publicClient = createPublicClient({ chain, transport: http(args.rpcUrl) });
  const wallet = createWalletClient({ chain, transport: http(args.rpcUrl), account });
  const channels = args.deployment.contracts.PaymentChannels.address;
  await publicClient.waitForTransactionReceipt({
    hash: await wallet.writeContract({
      address: args.deployment.token.address,
      abi: testUSDAbi,
      functionName: "approve",
      args: [channels, maxUint256],
    }),
  });
  const config: ChannelConfig = {
    payer: account.address,
    payerAuthorizer: account.address,
    receiverAgentId: BigInt(args.provider.agentId),
    modelId: BigInt(args.provider.modelId),
    token: args.deployment.token.address,
    withdrawDelay: 3_600n,
    salt: keccak256(toHex("cli-test")),
    receiverSigner: await currentReceiverSigner({
      publicClient,
      agentRegistry: args.deployment.contracts.AgentRegistry.address,
      agentId: BigInt(args.provider.agentId),
    }),
  };
  await publicClient.waitForTransactionReceipt({
    hash: await wallet.writeContract({
      address: channels,
      abi: paymentChannelsAbi,
      functionName: "open",
      args: [config, 1_000_000n],
    }),
  });
  const payer = createVoucherFetch({
    channelId: channelIdOf(config),
    authorizer: account,
    chainId: 31337,
    paymentChannels: channels,
    headroom: 10_000n,
  });
  const client = new OpenAI({ baseURL: `${args.provider.url}/v1`, apiKey: "x", fetch: payer.fetch, maxRetries: 0 });
  const completion = await client.chat.completions.create({
    model: "verity-tiny",
    messages: [{ role: "user", content: "hello devnet" }],
    max_tokens: 8,
  });
  assert.ok((completion.usage?.completion_tokens ?? 0) > 0);
  assert.ok(payer.charged > 0n);
}
