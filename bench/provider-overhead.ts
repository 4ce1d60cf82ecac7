/**
 * Provider overhead: a paid chat completion through a real provider (HTTP, voucher check, metering,
 * signed receipt, fsync'd SQLite write) against the same engine call made directly in the same
 * process, for short prompts. Prints added p50/p99 latency and the throughput ratio.
 */
import { createNativeAccount } from "@verity/chain";
import { openTestChannel, startTestProvider } from "../packages/provider/src/testing.ts";
import { createVoucherFetch } from "../packages/sdk/src/voucher-fetch.ts";

const N = Number(process.env.VERITY_BENCH_N ?? 60);
const MAX_TOKENS = 8;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function line(metric: string, value: number, unit: string, baseline: number | null) {
  const round = (v: number) => Math.round(v * 1000) / 1000;
  console.log(
    JSON.stringify({
      bench: "provider-overhead",
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

const p = await startTestProvider();
try {
  const engine = p.engines[0];
  const model = p.info.models[0];
  if (!engine || !model) throw new Error("no engine");
  const channelId = await openTestChannel({
    t: p.t,
    deployment: p.deployment,
    payer: "client-1",
    agentId: p.info.agentId,
    modelId: model.modelId,
    amount: 100_000_000n,
  });
  const payer = createVoucherFetch({
    channelId,
    authorizer: createNativeAccount(p.t.account("client-1").privateKey),
    chainId: p.deployment.chainId,
    paymentChannels: p.deployment.contracts.PaymentChannels.address,
    headroom: 5_000n,
  });
  const messages = [{ role: "user" as const, content: "Benchmark: say a few words." }];
  const direct: number[] = [];
  const paid: number[] = [];
  const body = JSON.stringify({ model: "verity-tiny", messages, max_tokens: MAX_TOKENS, temperature: 0, seed: 1 });
  // warm up both paths
  await engine.generate({ prompt: { messages }, sampling: { maxTokens: MAX_TOKENS, temperature: 0, seed: 1 } });
  await (
    await payer.fetch(`${p.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    })
  ).json();
  for (let i = 0; i < N; i++) {
    let started = performance.now();
    await engine.generate({ prompt: { messages }, sampling: { maxTokens: MAX_TOKENS, temperature: 0, seed: 1 } });
    direct.push(performance.now() - started);
    started = performance.now();
    const response = await payer.fetch(`${p.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
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
} finally {
  await p.close();
}
