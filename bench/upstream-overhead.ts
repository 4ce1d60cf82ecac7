/**
 * Upstream-provider overhead: a paid chat completion through a provider started in `--upstream`
 * mode (HTTP, voucher check, the upstream call, own usage count, signed receipt, fsync'd SQLite
 * write) against the same request sent straight to the upstream engine server — a separate
 * process serving the project's llama.cpp engine over the OpenAI API. Prints p50/p99 latency, the
 * added latency and the throughput ratio.
 */

import { deploy } from "@verity/chain";
import { createTestChain } from "@verity/chain/testing";
import { privateKeyToAccount } from "viem/accounts";
import { startEngineServerProcess } from "../packages/engine/src/engine-server-process.ts";
import { openTestChannel } from "../packages/provider/src/testing.ts";
import { manifestOfEngineServer, startUpstreamTestProvider } from "../packages/provider/src/upstream-testing.ts";
import { createVoucherFetch } from "../packages/sdk/src/voucher-fetch.ts";

const N = Number(process.env.VERITY_BENCH_N ?? 40);
const MAX_TOKENS = 8;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function line(metric: string, value: number, unit: string, baseline: number | null) {
  const round = (v: number) => Math.round(v * 1000) / 1000;
  console.log(
    JSON.stringify({
      bench: "upstream-overhead",
      metric,
      value: round(value),
      unit,
      baseline: baseline === null ? null : round(baseline),
      ratio: baseline ? round(value / baseline) : null,
      n: N,
      maxTokens: MAX_TOKENS,
    }),
  );
}

const server = await startEngineServerProcess({ model: "test:verity-tiny" });
const t = await createTestChain();
try {
  const deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  const manifest = await manifestOfEngineServer(server.url);
  const p = await startUpstreamTestProvider({
    t,
    deployment,
    account: "provider-1",
    upstream: `${server.url}/v1`,
    manifest,
    price: { inputPerMTok: 1_000_000n, outputPerMTok: 2_000_000n },
    probeIntervalMs: 2_000,
  });
  const model = p.info.models[0];
  if (!model) throw new Error("no model");
  const channelId = await openTestChannel({
    t,
    deployment,
    payer: "client-1",
    agentId: p.info.agentId,
    modelId: model.modelId,
    amount: 100_000_000n,
  });
  const payer = createVoucherFetch({
    channelId,
    authorizer: privateKeyToAccount(t.account("client-1").privateKey),
    chainId: deployment.chainId,
    paymentChannels: deployment.contracts.PaymentChannels.address,
    headroom: 5_000n,
  });
  const messages = [{ role: "user" as const, content: "Benchmark: say a few words." }];
  const body = JSON.stringify({ model: manifest.name, messages, max_tokens: MAX_TOKENS, temperature: 0, seed: 1 });
  const post = { method: "POST", headers: { "content-type": "application/json" }, body };
  const direct: number[] = [];
  const paid: number[] = [];
  // warm up both paths
  await (await fetch(`${server.url}/v1/chat/completions`, post)).json();
  await (await payer.fetch(`${p.info.url}/v1/chat/completions`, post)).json();
  for (let i = 0; i < N; i++) {
    let started = performance.now();
    const plain = await fetch(`${server.url}/v1/chat/completions`, post);
    await plain.json();
    if (plain.status !== 200) throw new Error(`direct request failed: ${plain.status}`);
    direct.push(performance.now() - started);
    started = performance.now();
    const response = await payer.fetch(`${p.info.url}/v1/chat/completions`, post);
    await response.json();
    if (response.status !== 200) throw new Error(`paid request failed: ${response.status}`);
    paid.push(performance.now() - started);
  }
  const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
  line("latency_p50", percentile(paid, 50), "ms", percentile(direct, 50));
  line("latency_p99", percentile(paid, 99), "ms", percentile(direct, 99));
  line("added_latency_p50", percentile(paid, 50) - percentile(direct, 50), "ms", null);
  line("added_latency_p99", percentile(paid, 99) - percentile(direct, 99), "ms", null);
  line("throughput", (N / sum(paid)) * 1000, "req/s", (N / sum(direct)) * 1000);
  await p.provider.stop({ finalClaim: false, drainMs: 500 });
  await p.engine.close();
} finally {
  await server.kill();
  await t.close();
}
