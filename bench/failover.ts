/**
 * Failover latency: two providers as their own processes (`verity provider start`), the gateway
 * in-process with its default routing policy, a streamed chat completion through it with the
 * official `openai` client. Each round times (b) a stream whose serving provider (the policy's first
 * pick) is SIGKILLed at its first content chunk, which the gateway continues on the other provider,
 * against (a) the mean of the normal streams just before and just after it (the killed provider is
 * restarted in between). Prints the medians over the rounds: both totals, the extra latency
 * (b − a), and the longest pause the caller saw between two chunks in (b), which is the failover
 * itself without the run-to-run noise of the whole generation. Everything shares this machine's cores.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createRpcServer, deploy, writeDeployment } from "@verity/chain";
import { createTestChain } from "@verity/chain/testing";
import type { BaseError } from "@verity/core";
import { createTestEngine } from "@verity/engine";
import { createGateway, defaultRoutingPolicy, type RouteOffer, type RoutingPolicy } from "@verity/gateway";
import OpenAI from "openai";
import { privateKeyToAccount } from "viem/accounts";
import { fundedKey } from "../packages/gateway/src/testing.ts";
import { mintTestUSD, registerTestModel } from "../packages/provider/src/testing.ts";

const ROUNDS = Number(process.env.VERITY_BENCH_ROUNDS ?? 5);
const MAX_TOKENS = 300;
const bin = fileURLToPath(new URL("../packages/cli/src/bin.ts", import.meta.url));

type Ready = { url: string; agentId: string };
type Running = { child: ChildProcess; ready: Ready; exited: Promise<void> };

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

function line(
  metric: string,
  value: number,
  unit: string,
  baseline: number | null,
  extra: Record<string, unknown> = {},
) {
  const round = (v: number) => Math.round(v * 1000) / 1000;
  console.log(
    JSON.stringify({
      bench: "failover",
      metric,
      value: round(value),
      unit,
      baseline: baseline === null ? null : round(baseline),
      ratio: baseline ? round(value / baseline) : null,
      n: ROUNDS,
      maxTokens: MAX_TOKENS,
      cores: cpus().length,
      ...extra,
    }),
  );
}

const dir = mkdtempSync(join(tmpdir(), "verity-bench-failover-"));
const t = await createTestChain();
const rpc = createRpcServer({ provider: t.edr.provider, port: 0 });
const rpcUrl = await rpc.start();
const children = new Set<ChildProcess>();
let gateway: ReturnType<typeof createGateway> | undefined;
try {
  const deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  const deploymentFile = join(dir, "deployment.json");
  writeDeployment(deploymentFile, deployment);
  const engine = await createTestEngine({ name: "verity-tiny" });
  await registerTestModel(t, deployment, engine);
  await engine.close();
  const accounts = ["provider-1", "provider-2"];
  for (const account of accounts) await mintTestUSD(t, deployment, account, 1_000_000_000n);
  await mintTestUSD(t, deployment, "gateway", 100_000_000n);

  function startProvider(account: string): Promise<Running> {
    const child = spawn(
      process.execPath,
      [
        ...[bin, "provider", "start", "--model", "test:verity-tiny", "--rpc", rpcUrl, "--deployment", deploymentFile],
        ...["--port", "0", "--data-dir", join(dir, account), "--json"],
      ],
      { stdio: ["ignore", "pipe", "ignore"], env: { ...process.env, VERITY_KEY: t.account(account).privateKey } },
    );
    children.add(child);
    const exited = new Promise<void>((resolve) =>
      child.once("exit", () => {
        children.delete(child);
        resolve();
      }),
    );
    return new Promise((resolve, reject) => {
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (l) => {
        const event = JSON.parse(l) as { event: string };
        if (event.event === "ready") resolve({ child, ready: event as unknown as Ready, exited });
        if (event.event === "error") reject(new Error(l));
      });
      void exited.then(() => reject(new Error(`${account} exited`)));
    });
  }
  const running = new Map<string, Running>(); // by account
  await Promise.all(accounts.map(async (a) => running.set(a, await startProvider(a))));

  // The default policy, recording its first pick so the bench knows which provider serves.
  let firstPick: RouteOffer | undefined;
  const policy: RoutingPolicy = (offers, request, random) => {
    const route = defaultRoutingPolicy(offers, request, random);
    firstPick = route[0];
    return route;
  };
  const gw = createGateway({
    allowPrivateEndpoints: true,
    deployment,
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account("gateway").privateKey),
    stateDir: join(dir, "gateway"),
    indexerPollMs: 50,
    probeIntervalMs: 200,
    x402: false,
    policy,
  });
  gateway = gw;
  const url = (await gw.start()).url;

  /** Waits until the gateway routes to `p` at its current URL and its payer has a working channel to it. */
  async function ready(p: Running): Promise<void> {
    for (let i = 0; ; i++) {
      const list = (await (await fetch(`${url}/v1/providers`)).json()) as {
        data: { agentId: string; url: string; healthy: boolean }[];
      };
      if (list.data.some((o) => o.agentId === p.ready.agentId && o.url === p.ready.url && o.healthy)) break;
      if (i > 400) throw new Error(`the gateway never saw agent ${p.ready.agentId} at ${p.ready.url}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const payer = gw.client;
    if (!payer) throw new Error("the gateway has no payer");
    for (let i = 0; ; i++) {
      try {
        await payer.chat.completions.create(
          { model: "verity-tiny", messages: [{ role: "user", content: "warm up" }], max_tokens: 4 },
          { agentId: BigInt(p.ready.agentId) },
        );
        return;
      } catch (error) {
        // A fresh channel's first voucher can race the provider's indexer; a restarted provider's
        // new URL may not have reached the payer's own directory yet.
        const code = (error as BaseError).code;
        if (!["voucher_wrong_channel", "upstream_unreachable", "no_healthy_offer"].includes(code) || i > 40)
          throw error;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }
  for (const p of running.values()) await ready(p);

  const created = await fundedKey({ t, deployment, url, account: "client-1", amount: 50_000_000n });
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: created.key, maxRetries: 0 });

  /** One streamed request; `kill` at the first content chunk SIGKILLs the provider serving it. */
  async function stream(kill: boolean): Promise<{ ms: number; stallMs: number; attempts: number; killed?: string }> {
    const started = performance.now();
    const chunks = await client.chat.completions.create({
      model: "verity-tiny",
      messages: [{ role: "user", content: "stream it" }],
      max_tokens: MAX_TOKENS,
      temperature: 0,
      seed: 7,
      stream: true,
    });
    const serving = firstPick;
    let killed: string | undefined;
    let exited: Promise<void> | undefined;
    let last = performance.now();
    let stallMs = 0;
    let attempts = 0;
    for await (const chunk of chunks) {
      const now = performance.now();
      if (chunk.choices[0]?.delta?.content) {
        if (killed !== undefined) stallMs = Math.max(stallMs, now - last);
        last = now;
        if (kill && killed === undefined) {
          const victim = [...running.entries()].find(([, p]) => p.ready.agentId === serving?.agentId.toString());
          if (!victim) throw new Error("the serving provider is not one of ours");
          killed = victim[0];
          victim[1].child.kill("SIGKILL");
          exited = victim[1].exited;
          last = performance.now();
        }
      }
      const v = (chunk as unknown as { verity?: { gateway?: { attempts: number } } }).verity;
      if (v?.gateway) attempts = v.gateway.attempts;
    }
    const ms = performance.now() - started;
    await exited;
    if (attempts === 0) throw new Error("the stream ended without the gateway's trailing chunk");
    return { ms, stallMs, attempts, ...(killed ? { killed } : {}) };
  }

  await stream(false); // warm
  // Normal runs bracket each killed run (before it, and after the restart), and the killed run is
  // compared with their mean, so drift in the machine's load falls on both sides.
  const normal: number[] = [(await stream(false)).ms];
  const withKill: number[] = [];
  const extra: number[] = [];
  const stalls: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const b = await stream(true);
    if (b.attempts !== 2 || !b.killed) throw new Error(`round ${round}: expected a failover, got ${JSON.stringify(b)}`);
    const restarted = await startProvider(b.killed);
    running.set(b.killed, restarted);
    await ready(restarted);
    const after = (await stream(false)).ms;
    const before = normal.at(-1) ?? after;
    normal.push(after);
    withKill.push(b.ms);
    extra.push(b.ms - (before + after) / 2);
    stalls.push(b.stallMs);
    process.stderr.write(
      `  round ${round}: killed ${b.killed} → ${b.ms.toFixed(0)} ms vs ${before.toFixed(0)}/${after.toFixed(0)} ms normal, longest pause ${b.stallMs.toFixed(0)} ms\n`,
    );
  }
  line("stream_total", median(normal), "ms", null);
  line("stream_total_killed_mid_stream", median(withKill), "ms", median(normal));
  line("failover_extra_latency", median(extra), "ms", null, { aim: 1000, rounds: extra.map(Math.round) });
  line("failover_longest_pause", median(stalls), "ms", null, { rounds: stalls.map(Math.round) });
} finally {
  await gateway?.stop();
  for (const child of children) child.kill("SIGKILL");
  await rpc.stop();
  await t.close();
  rmSync(dir, { recursive: true, force: true });
}
