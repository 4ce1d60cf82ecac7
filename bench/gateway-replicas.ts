/**
 * Gateway replicas: requests/s of the same paid chat completion (max_tokens 4) through one gateway
 * replica vs two replicas on the same Postgres, in the same run, side by side. Each replica is its
 * own `verity gateway start --database …` process with its own payer key; two test providers serve
 * (so one engine is not the ceiling); one prepaid key, funded once, pays every request. autocannon
 * keeps VERITY_BENCH_CONNECTIONS (default 4) connections open in total — all on one replica, or
 * split over both — for VERITY_BENCH_SECONDS (default 5) per run, in the order one, two, two, one.
 * Prints one JSON line per figure (`baseline` = one replica). Everything shares this machine's
 * cores, so on a small box the figure shows contention on the shared database more than scale-out.
 * Without Postgres binaries it prints why and exits 0.
 */
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { startTestNetwork, startVerity } from "../packages/cli/src/cli-testing.ts";
import { startTestPostgres } from "../packages/gateway/src/store/postgres-testing.ts";
import { fundedKey } from "../packages/gateway/src/testing.ts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../packages/provider/src/testing.ts";

const SECONDS = Number(process.env.VERITY_BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.VERITY_BENCH_CONNECTIONS ?? 4);

function line(metric: string, value: number, unit: string, baseline: number | null, extra: Record<string, unknown>) {
  const round = (v: number) => Math.round(v * 1000) / 1000;
  console.log(
    JSON.stringify({
      bench: "gateway-replicas",
      metric,
      value: round(value),
      unit,
      baseline: baseline === null ? null : round(baseline),
      ratio: baseline ? round(value / baseline) : null,
      connections: CONNECTIONS,
      seconds: SECONDS,
      cores: cpus().length,
      ...extra,
    }),
  );
}

const server = await startTestPostgres();
if ("skip" in server) {
  process.stderr.write(`gateway-replicas: skipped, Postgres not installed: ${server.skip}\n`);
  process.exit(0);
}
const net = await startTestNetwork();
const providers: TestProvider[] = [];
const stops: (() => Promise<unknown>)[] = [];
try {
  for (const account of ["provider-1", "provider-2"])
    providers.push(await startTestProvider({ t: net.t, deployment: net.deployment, account }));
  const database = await server.createDatabase();
  const keyFile = (name: string) => {
    const path = join(net.dir, `${name}.key`);
    writeFileSync(path, net.key(name));
    chmodSync(path, 0o600);
    return path;
  };
  const payers = ["client-5", "client-6"];
  for (const payer of payers) await mintTestUSD(net.t, net.deployment, payer, 1_000_000_000n);
  const urls: string[] = [];
  for (const [i, payer] of payers.entries()) {
    const started = await startVerity([
      ...["gateway", "start", "--rpc", net.rpcUrl, "--deployment", net.deploymentFile],
      ...["--key-file", keyFile("gateway"), "--payer-key-file", keyFile(payer), "--replica-id", `bench-${i + 1}`],
      ...["--state-dir", join(net.dir, `replica-${i + 1}`), "--database", database, "--port", "0"],
      ...["--allow-private-offers", "--deposit-confirmations", "0", "--no-x402"],
    ]);
    stops.push(() => started.stop());
    urls.push(String(started.ready.url));
  }
  const [first = "", second = ""] = urls;
  const { key } = await fundedKey({
    t: net.t,
    deployment: net.deployment,
    url: first,
    account: "client-1",
    amount: 500_000_000n,
  });
  const headers = { "content-type": "application/json", authorization: `Bearer ${key}` };
  const body = JSON.stringify({
    model: "verity-tiny",
    messages: [{ role: "user", content: "Benchmark: say a few words." }],
    max_tokens: 4,
    temperature: 0,
    seed: 1,
  });
  // Warm both replicas (channel opening, JIT, pools).
  for (const url of [first, second])
    for (let i = 0; i < 10; i++) {
      const response = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers, body });
      if (!response.ok) throw new Error(`warm-up: ${response.status} ${await response.text()}`);
      await response.text();
    }

  type Run = { requests: number; seconds: number; failed: number; p50: number };
  async function load(url: string, connections: number) {
    const result = await autocannon({
      url,
      connections,
      duration: SECONDS,
      requests: [{ method: "POST", path: "/v1/chat/completions", headers, body }],
    });
    return { requests: result["2xx"], failed: result.non2xx + result.errors, p50: result.latency.p50 };
  }
  async function run(replicas: 1 | 2): Promise<Run> {
    const started = performance.now();
    const parts =
      replicas === 1
        ? [await load(first, CONNECTIONS)]
        : await Promise.all([
            load(first, Math.ceil(CONNECTIONS / 2)),
            load(second, Math.max(1, Math.floor(CONNECTIONS / 2))),
          ]);
    return {
      requests: parts.reduce((a, p) => a + p.requests, 0),
      failed: parts.reduce((a, p) => a + p.failed, 0),
      p50: parts.reduce((a, p) => a + p.p50, 0) / parts.length,
      seconds: (performance.now() - started) / 1000,
    };
  }
  const runs = { 1: [] as Run[], 2: [] as Run[] };
  for (const replicas of [1, 2, 2, 1] as const) {
    runs[replicas].push(await run(replicas));
    process.stderr.write(`  ${replicas} replica(s): ${JSON.stringify(runs[replicas].at(-1))}\n`);
  }
  const failed = [...runs[1], ...runs[2]].reduce((a, r) => a + r.failed, 0);
  if (failed > 0) throw new Error(`${failed} requests failed during the runs`);
  const rate = (rs: Run[]) => rs.reduce((a, r) => a + r.requests, 0) / rs.reduce((a, r) => a + r.seconds, 0);
  const p50 = (rs: Run[]) => rs.reduce((a, r) => a + r.p50, 0) / rs.length;
  const counts = {
    requests: { one: runs[1].reduce((a, r) => a + r.requests, 0), two: runs[2].reduce((a, r) => a + r.requests, 0) },
  };
  line("throughput_two_replicas", rate(runs[2]), "req/s", rate(runs[1]), counts);
  line("latency_p50_two_replicas", p50(runs[2]), "ms", p50(runs[1]), counts);
} finally {
  while (stops.length > 0)
    await stops
      .pop()?.()
      .catch(() => undefined);
  for (const p of providers) await p.close().catch(() => undefined);
  await net.close();
  await server.stop();
  rmSync(net.dir, { recursive: true, force: true });
}
