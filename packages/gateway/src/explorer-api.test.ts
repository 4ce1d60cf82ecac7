import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { deploy } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import { datasetRegistryAbi, modelRegistryAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import OpenAI from "openai";
import { keccak256, stringToHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import { createGateway, type Gateway } from "./gateway.ts";
import { gatewayStateDir } from "./store/store-testing.ts";
import { fundedKey } from "./testing.ts";

let t: TestChain;
let deployment: Deployment;
let provider: TestProvider;
let gateway: Gateway;
let url: string;
let agentId: string;

const get = async (path: string) => {
  const response = await fetch(`${url}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

async function until<T>(probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("timed out");
}

before(async () => {
  t = await createTestChain();
  deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  provider = await startTestProvider({ t, deployment, account: "provider-1" });
  agentId = provider.info.agentId.toString();
  // client-6 contributes a dataset the model credits with its whole royalty.
  const datasets = deployment.contracts.DatasetRegistry?.address ?? "0x";
  const sent = async (hash: Promise<`0x${string}`>) => t.publicClient.waitForTransactionReceipt({ hash: await hash });
  await sent(
    t.wallet("client-6").writeContract({
      address: datasets,
      abi: datasetRegistryAbi,
      functionName: "register",
      args: [keccak256(stringToHex("explorer dataset")), 0, 0n, "ipfs://licence", "ipfs://data"],
    }),
  );
  await sent(
    t.wallet("modelOwner").writeContract({
      address: deployment.contracts.ModelRegistry.address,
      abi: modelRegistryAbi,
      functionName: "creditDataset",
      args: [1n, 1n, 10_000],
    }),
  );
  await mintTestUSD(t, deployment, "gateway", 100_000_000n);
  gateway = createGateway({
    allowPrivateEndpoints: true,
    deployment,
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account("gateway").privateKey),
    stateDir: await gatewayStateDir("verity-explorer-api-"),
    indexerPollMs: 50,
    probeIntervalMs: 200,
    x402: false,
    explorer: false,
  });
  url = (await gateway.start()).url;
  const created = await fundedKey({ t, deployment, url, account: "client-1", amount: 5_000_000n });
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: created.key, maxRetries: 0 });
  // Retried until the deposit is credited to the key (a refused request is counted as failed, not served).
  await until(async () =>
    client.chat.completions
      .create({ model: "verity-tiny", messages: [{ role: "user", content: "count me" }], max_tokens: 8 })
      .then(
        () => true,
        () => undefined,
      ),
  );
  await provider.provider.claimer?.claimNow(true);
});

after(async () => {
  await gateway.stop();
  await provider.close();
  await t.close();
});

test("the overview joins chain totals, live health and the gateway's own traffic", async () => {
  const o = await until(async () => {
    const { body } = await get("/api/overview");
    return (body.network as { claims: number }).claims > 0 ? body : undefined;
  });
  const network = o.network as Record<string, unknown>;
  assert.equal(network.requests, 1);
  assert.equal(network.providersOnline, 1);
  assert.equal(network.engines, 1);
  assert.ok(BigInt(network.totalPaid as string) > 0n);
  assert.equal(
    BigInt(network.totalPaid as string),
    BigInt(network.providerEarnings as string) +
      BigInt(network.royaltiesPaid as string) +
      BigInt(network.protocolFees as string),
  );
  const [p] = o.providers as Record<string, unknown>[];
  assert.equal(p?.agentId, agentId);
  assert.equal(p?.requests, 1);
  assert.equal(p?.trafficShare, 1);
  assert.deepEqual(p?.audits, { passed: 0, failed: 0 });
  const series = (o.series as { points: { requests: number; paid: string }[] }).points;
  assert.equal(
    series.reduce((s, x) => s + x.requests, 0),
    1,
  );
  assert.ok(
    series.some((x) => x.paid !== "0"),
    "the claim's amount is in the series",
  );
  const [m] = o.models as Record<string, unknown>[];
  assert.deepEqual([m?.name, m?.providers, m?.volumeShare], ["verity-tiny", 1, 1]);
});

test("a provider's page, a transaction and a time series answer by id", async () => {
  const { status, body } = await get(`/api/providers/${agentId}`);
  assert.equal(status, 200);
  assert.equal((body.provider as { agentId: string }).agentId, agentId);
  assert.ok((body.channels as unknown[]).length >= 1);
  const claims = (await get("/api/events?names=Claimed&limit=1")).body.data as { tx_hash: string }[];
  const tx = await get(`/api/tx/${claims[0]?.tx_hash.toUpperCase().replace("0X", "0x")}`);
  assert.equal(tx.status, 200);
  assert.ok((tx.body.events as { name: string }[]).some((e) => e.name === "Claimed"));
  const series = await get(`/api/timeseries?minutes=2&agent=${agentId}`);
  assert.equal((series.body.points as unknown[]).length, 12);
  const mine = (await get(`/api/events?agent=${agentId}&limit=100`)).body.data as { name: string }[];
  assert.ok(mine.some((e) => e.name === "Staked") && mine.some((e) => e.name === "Claimed"));
});

test("datasets show their credits and what claims paid each contributor", async () => {
  const models = await until(async () => {
    const { body } = await get("/api/models");
    const rows = body.data as { modelId: string; royaltiesPaid: string }[];
    return rows.some((m) => m.royaltiesPaid !== "0") ? rows : undefined;
  });
  const { status, body } = await get("/api/datasets");
  assert.equal(status, 200);
  const [dataset] = body.data as {
    datasetId: string;
    owner: string;
    credits: unknown[];
    earned: string;
    payees: { to: string; amount: string }[];
  }[];
  assert.equal(dataset?.datasetId, "1");
  assert.equal(dataset?.owner, t.account("client-6").address);
  assert.deepEqual(dataset?.credits, [{ modelId: "1", shareBps: 10_000 }]);
  // Credited with 100 % of the royalty, the dataset earned exactly what the model's royalty paid.
  assert.equal(dataset?.earned, models.find((m) => m.modelId === "1")?.royaltiesPaid);
  assert.deepEqual(dataset?.payees, [{ to: t.account("client-6").address, amount: dataset?.earned, payments: 1 }]);
});

test("bad input gets a clear status and reason code", async () => {
  const cases: [string, number, string][] = [
    ["/api/events?limit=0", 400, "invalid_request"],
    ["/api/events?limit=abc", 400, "invalid_request"],
    ["/api/events?names=Claimed;DROP", 400, "invalid_request"],
    ["/api/timeseries?minutes=61", 400, "invalid_request"],
    ["/api/providers/abc", 400, "invalid_request"],
    ["/api/providers/999", 404, "not_found"],
    ["/api/tx/0x1234", 400, "invalid_request"],
    [`/api/tx/0x${"ab".repeat(32)}`, 404, "not_found"],
  ];
  for (const [path, status, code] of cases) {
    const r = await get(path);
    assert.deepEqual([path, r.status, (r.body.error as { code: string }).code], [path, status, code]);
  }
});

test("/api/stream pushes overview snapshots as server-sent events", async () => {
  const controller = new AbortController();
  const response = await fetch(`${url}/api/stream`, { signal: controller.signal });
  assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  let text = "";
  while (!/event: overview\ndata: .*\n/.test(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  controller.abort();
  const data = /data: (.*)\n/.exec(text)?.[1] ?? "{}";
  assert.equal((JSON.parse(data) as { network: { requests: number } }).network.requests, 1);
});
