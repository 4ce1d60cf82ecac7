/**
 * Gateway overhead: the same paid chat completion (max_tokens 4, so engine time does not hide the
 * overhead) sent by autocannon, concurrency 4, against one provider process on loopback —
 * (a) directly, paid with a voucher per request (pre-signed before the run, increasing amounts, so
 *     signing is not measured on this side), and
 * (b) through the gateway with a prepaid API key (the gateway routes, holds and settles the
 *     caller's balance, signs a durable voucher with the SDK, verifies the receipt).
 * Runs alternate direct, gateway, gateway, direct (bounded by time each) so drift from other load
 * falls on both; percentiles are the mean of a path's two runs, throughput its total over its total
 * time. Prints added p50/p99 latency and the throughput ratio. The provider runs as its own
 * process (as it would on its own machine); autocannon, the gateway and the chain share this one,
 * and everything shares the machine's cores — on a 2-core box the gateway competes with the
 * provider for CPU, which a real deployment would not. VERITY_BENCH_SECONDS (per run, default 5)
 * and VERITY_BENCH_CONNECTIONS (default 4; 1 shows the per-request cost without queueing) tune it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createRpcServer, deploy, writeDeployment } from "@verity/chain";
import { createTestChain } from "@verity/chain/testing";
import { encodeVoucherHeader, HEADERS, voucherDomain, voucherTypes } from "@verity/core";
import { createTestEngine } from "@verity/engine";
import { createGateway } from "@verity/gateway";
import autocannon from "autocannon";
import { privateKeyToAccount } from "viem/accounts";
import { fundedKey } from "../packages/gateway/src/testing.ts";
import { mintTestUSD, openTestChannel, registerTestModel } from "../packages/provider/src/testing.ts";

const SECONDS = Number(process.env.VERITY_BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.VERITY_BENCH_CONNECTIONS ?? 4);
const MAX_TOKENS = 4;
const bin = fileURLToPath(new URL("../packages/cli/src/bin.ts", import.meta.url));

function line(metric: string, value: number, unit: string, baseline: number | null, extra: Record<string, unknown>) {
  const round = (v: number) => Math.round(v * 1000) / 1000;
  console.log(
    JSON.stringify({
      bench: "gateway-overhead",
      metric,
      value: round(value),
      unit,
      baseline: baseline === null ? null : round(baseline),
      ratio: baseline ? round(value / baseline) : null,
      connections: CONNECTIONS,
      seconds: SECONDS,
      maxTokens: MAX_TOKENS,
      cores: cpus().length,
      ...extra,
    }),
  );
}

const dir = mkdtempSync(join(tmpdir(), "verity-bench-gw-"));
const t = await createTestChain();
const rpc = createRpcServer({ provider: t.edr.provider, port: 0 });
const rpcUrl = await rpc.start();
let child: ChildProcess | undefined;
let gateway: ReturnType<typeof createGateway> | undefined;
try {
  const deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  const deploymentFile = join(dir, "deployment.json");
  writeDeployment(deploymentFile, deployment);
  const engine = await createTestEngine({ name: "verity-tiny" });
  await registerTestModel(t, deployment, engine);
  await engine.close();
  await mintTestUSD(t, deployment, "provider-1", 1_000_000_000n);
  await mintTestUSD(t, deployment, "gateway", 100_000_000n);

  // The provider, as its own process.
  const provider = spawn(
    process.execPath,
    [
      ...[bin, "provider", "start", "--model", "test:verity-tiny", "--rpc", rpcUrl, "--deployment", deploymentFile],
      ...["--port", "0", "--data-dir", join(dir, "provider"), "--max-output-tokens", "64", "--json"],
    ],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, VERITY_KEY: t.account("provider-1").privateKey } },
  );
  child = provider;
  const ready = await new Promise<{ url: string; agentId: string; models: { modelId: string }[] }>(
    (resolve, reject) => {
      createInterface({ input: provider.stdout as NodeJS.ReadableStream }).on("line", (l) => {
        const event = JSON.parse(l) as { event: string };
        if (event.event === "ready") resolve(event as never);
        if (event.event === "error") reject(new Error(l));
      });
      provider.once("exit", (code) => reject(new Error(`the provider exited with ${code}`)));
    },
  );

  // The gateway, in-process, and a prepaid API key funded by a deposit.
  const gw = createGateway({
    allowPrivateEndpoints: true,
    deployment,
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account("gateway").privateKey),
    stateDir: join(dir, "gateway"),
    x402: false,
  });
  gateway = gw;
  const gatewayUrl = (await gw.start()).url;
  const created = await fundedKey({ t, deployment, url: gatewayUrl, account: "client-1", amount: 50_000_000n });
  const auth = { authorization: `Bearer ${created.key}` };

  const body = JSON.stringify({
    model: "verity-tiny",
    messages: [{ role: "user", content: "Benchmark: say a few words." }],
    max_tokens: MAX_TOKENS,
    temperature: 0,
    seed: 1,
  });
  const json = { "content-type": "application/json" };

  // Direct: a channel from client-3 to the provider, and vouchers signed ahead of the runs.
  const channelId = await openTestChannel({
    t,
    deployment,
    payer: "client-3",
    agentId: BigInt(ready.agentId),
    modelId: BigInt(ready.models[0]?.modelId ?? 0),
    amount: 100_000_000n,
  });
  const refused = await fetch(`${ready.url}/v1/chat/completions`, { method: "POST", headers: json, body });
  const ceiling = BigInt(((await refused.json()) as { payment: { ceiling: string } }).payment.ceiling);
  const authorizer = privateKeyToAccount(t.account("client-3").privateKey);
  const domain = voucherDomain({
    chainId: deployment.chainId,
    verifyingContract: deployment.contracts.PaymentChannels.address,
  });
  // Voucher k covers everything sent before it plus the requests in flight: (k + 1) × 10 ceilings.
  let signed = 0n;
  async function voucherHeaders(count: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
      signed++;
      const cumulativeAmount = signed * 10n * ceiling;
      const signature = await authorizer.signTypedData({
        domain,
        types: voucherTypes,
        primaryType: "Voucher",
        message: { channelId, cumulativeAmount },
      });
      out.push(encodeVoucherHeader({ channelId, cumulativeAmount, signature }));
    }
    return out;
  }

  async function directOnce(): Promise<void> {
    // The first voucher on a fresh channel can race the provider's indexer poll: retry that one.
    for (let attempt = 0; ; attempt++) {
      const [voucher] = await voucherHeaders(1);
      const response = await fetch(`${ready.url}/v1/chat/completions`, {
        method: "POST",
        headers: { ...json, [HEADERS.voucher]: voucher as string },
        body,
      });
      const text = await response.text();
      if (response.ok) return;
      if (!text.includes("voucher_wrong_channel") || attempt > 10)
        throw new Error(`direct: ${response.status} ${text}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  async function viaGatewayOnce(): Promise<void> {
    const response = await fetch(`${gatewayUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { ...json, ...auth },
      body,
    });
    if (!response.ok) throw new Error(`gateway: ${response.status} ${await response.text()}`);
    await response.text();
  }
  // Warm both paths (channel opening, JIT, connection pools), and time the direct path one request
  // at a time: the provider runs one engine, so 4 connections cannot go much faster than that. Each
  // direct run gets 4× as many pre-signed vouchers as the sequential rate would use (running out
  // would show as failed requests and stop the bench).
  await directOnce();
  await viaGatewayOnce();
  const warm = performance.now();
  for (let i = 0; i < 20; i++) await directOnce();
  const vouchersPerRun = Math.ceil((20 / ((performance.now() - warm) / 1000)) * SECONDS * 4) + 200;
  for (let i = 0; i < 20; i++) await viaGatewayOnce();

  type Run = { p50: number; p99: number; requests: number; seconds: number; non2xx: number; errors: number };
  async function run(kind: "direct" | "gateway"): Promise<Run> {
    const vouchers = kind === "direct" ? await voucherHeaders(vouchersPerRun) : [];
    let next = 0;
    const started = performance.now();
    const result = await autocannon({
      url: kind === "direct" ? ready.url : gatewayUrl,
      connections: CONNECTIONS,
      duration: SECONDS,
      requests: [
        {
          method: "POST",
          path: "/v1/chat/completions",
          headers: kind === "direct" ? json : { ...json, ...auth },
          body,
          ...(kind === "direct"
            ? {
                setupRequest: (request) => {
                  const voucher = vouchers[next++];
                  return voucher
                    ? { ...request, headers: { ...request.headers, [HEADERS.voucher]: voucher } }
                    : request;
                },
              }
            : {}),
        },
      ],
    });
    const seconds = (performance.now() - started) / 1000;
    return {
      p50: result.latency.p50,
      p99: result.latency.p99,
      requests: result["2xx"],
      seconds,
      non2xx: result.non2xx,
      errors: result.errors,
    };
  }

  const runs = { direct: [] as Run[], gateway: [] as Run[] };
  for (const kind of ["direct", "gateway", "gateway", "direct"] as const) {
    runs[kind].push(await run(kind));
    process.stderr.write(`  ${kind}: ${JSON.stringify(runs[kind].at(-1))}\n`);
  }
  const mean = (rs: Run[], f: (r: Run) => number) => rs.reduce((a, r) => a + f(r), 0) / rs.length;
  const rate = (rs: Run[]) => rs.reduce((a, r) => a + r.requests, 0) / rs.reduce((a, r) => a + r.seconds, 0);
  const failed = [...runs.direct, ...runs.gateway].reduce((a, r) => a + r.non2xx + r.errors, 0);
  if (failed > 0) throw new Error(`${failed} requests failed during the runs`);
  const d = { p50: mean(runs.direct, (r) => r.p50), p99: mean(runs.direct, (r) => r.p99), rate: rate(runs.direct) };
  const g = { p50: mean(runs.gateway, (r) => r.p50), p99: mean(runs.gateway, (r) => r.p99), rate: rate(runs.gateway) };
  const counts = {
    requests: {
      direct: runs.direct.reduce((a, r) => a + r.requests, 0),
      gateway: runs.gateway.reduce((a, r) => a + r.requests, 0),
    },
  };
  line("latency_p50", g.p50, "ms", d.p50, counts);
  line("latency_p99", g.p99, "ms", d.p99, counts);
  line("added_latency_p50", g.p50 - d.p50, "ms", null, { ...counts, aim: 2 });
  line("added_latency_p99", g.p99 - d.p99, "ms", null, counts);
  line("throughput", g.rate, "req/s", d.rate, { ...counts, aim: 0.9 });
} finally {
  await gateway?.stop();
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child?.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  }
  await rpc.stop();
  await t.close();
  rmSync(dir, { recursive: true, force: true });
}
