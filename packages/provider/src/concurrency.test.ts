import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { encodeVoucherHeader, voucherDomain, voucherTypes } from "@verity/core";
import { privateKeyToAccount } from "viem/accounts";
import { openTestChannel, startTestProvider, type TestProvider } from "./testing.ts";

let p: TestProvider;
let modelId: bigint;

before(async () => {
  p = await startTestProvider({ maxQueued: 1 });
  modelId = p.info.models[0]?.modelId ?? 0n;
});
after(async () => {
  await p.close();
});

async function voucher(payer: string, channelId: `0x${string}`, amount: bigint) {
  const signature = await privateKeyToAccount(p.t.account(payer).privateKey).signTypedData({
    domain: voucherDomain({
      chainId: p.deployment.chainId,
      verifyingContract: p.deployment.contracts.PaymentChannels.address,
    }),
    types: voucherTypes,
    primaryType: "Voucher",
    message: { channelId, cumulativeAmount: amount },
  });
  return encodeVoucherHeader({ channelId, cumulativeAmount: amount, signature });
}

function chat(header: string, maxTokens: number) {
  return fetch(`${p.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "verity-voucher": header },
    body: JSON.stringify({
      model: "verity-tiny",
      messages: [{ role: "user", content: "concurrent" }],
      max_tokens: maxTokens,
    }),
  });
}

test("two concurrent requests on one channel cannot both spend the same headroom", async () => {
  const channelId = await openTestChannel({
    t: p.t,
    deployment: p.deployment,
    payer: "client-1",
    agentId: p.info.agentId,
    modelId,
    amount: 1_000_000n,
  });
  // The ceiling of one request is ~ prompt×1 + 200×2 base units; 700 covers one, not two.
  const [a, b] = await Promise.all([
    chat(await voucher("client-1", channelId, 700n), 200),
    chat(await voucher("client-1", channelId, 701n), 200),
  ]);
  const statuses = [a.status, b.status].sort();
  const bodies = [await a.json(), await b.json()] as { error?: { code: string } }[];
  assert.deepEqual(statuses, [200, 402]);
  assert.equal(bodies.find((x) => x.error)?.error?.code, "voucher_below_ceiling");
  const charges = p.provider.store?.channel(channelId);
  assert.ok(charges && charges.charged > 0n && charges.charged <= 700n);
});

test("a voucher with room for both lets two concurrent requests through, each charged once", async () => {
  const channelId = await openTestChannel({
    t: p.t,
    deployment: p.deployment,
    payer: "client-2",
    agentId: p.info.agentId,
    modelId,
    amount: 1_000_000n,
  });
  const [a, b] = await Promise.all([
    chat(await voucher("client-2", channelId, 2_000n), 100),
    chat(await voucher("client-2", channelId, 2_001n), 100),
  ]);
  assert.deepEqual([a.status, b.status], [200, 200]);
  const charged = [BigInt(a.headers.get("verity-charged") ?? 0), BigInt(b.headers.get("verity-charged") ?? 0)].sort(
    (x, y) => (x < y ? -1 : 1),
  );
  const total = p.provider.store?.channel(channelId).charged ?? 0n;
  assert.equal(charged[1], total, "the later receipt carries the full cumulative total");
  assert.ok((charged[0] ?? 0n) < total);
});

test("past the queue bound a request is refused with 429 and Retry-After, and charges nothing", async () => {
  const channelId = await openTestChannel({
    t: p.t,
    deployment: p.deployment,
    payer: "client-3",
    agentId: p.info.agentId,
    modelId,
    amount: 1_000_000n,
  });
  const amounts = [100_000n, 100_001n, 100_002n, 100_003n, 100_004n, 100_005n];
  const responses = await Promise.all(
    amounts.map(async (amount) => chat(await voucher("client-3", channelId, amount), 200)),
  );
  const limited = responses.filter((r) => r.status === 429);
  assert.ok(limited.length >= 1, `statuses ${responses.map((r) => r.status)}`);
  const first = limited[0];
  assert.ok(first);
  assert.equal(first.headers.get("retry-after"), "1");
  assert.equal(((await first.json()) as { error: { code: string } }).error.code, "rate_limited");
  const served = responses.filter((r) => r.status === 200).length;
  assert.equal(served + limited.length, amounts.length);
});

test("health, metrics, models and the ERC-8004 registration file", async () => {
  const health = (await (await fetch(`${p.url}/health`)).json()) as {
    status: string;
    agentId: string;
    requests: number;
  };
  assert.equal(health.status, "ok");
  assert.equal(health.agentId, p.info.agentId.toString());
  assert.ok(health.requests > 0);
  const metrics = await (await fetch(`${p.url}/metrics`)).text();
  for (const name of [
    "verity_provider_requests_total",
    "verity_provider_tokens_total",
    "verity_provider_request_seconds",
    "verity_provider_earnings_base_units_total",
    "verity_provider_claim_lag_seconds",
  ]) {
    assert.match(metrics, new RegExp(name));
  }
  const registration = (await (await fetch(`${p.url}/.well-known/agent-registration.json`)).json()) as {
    type: string;
    services: { endpoint: string }[];
    registrations: { agentId: number; agentRegistry: string }[];
    supportedTrust: string[];
    offers: { modelId: string }[];
  };
  assert.match(registration.type, /eip-8004/);
  assert.equal(registration.services[0]?.endpoint, `${p.url}/v1`);
  assert.equal(registration.registrations[0]?.agentId, Number(p.info.agentId));
  assert.match(registration.registrations[0]?.agentRegistry ?? "", /^eip155:31337:0x/);
  assert.deepEqual(
    registration.offers.map((o) => o.modelId),
    [modelId.toString()],
  );
  const missing = await fetch(`${p.url}/nope`);
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { error: { code: string } }).error.code, "not_found");
});
