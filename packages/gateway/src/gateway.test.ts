import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { deploy } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import { testUSDAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import { x402Client } from "@x402/core/client";
import { toClientEvmSigner } from "@x402/evm";
import { ExactEvmScheme } from "@x402/evm/exact/client";
import { wrapFetchWithPayment } from "@x402/fetch";
import OpenAI from "openai";
import { privateKeyToAccount } from "viem/accounts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import { createGateway, type Gateway } from "./gateway.ts";
import { gatewayStateDir } from "./store/store-testing.ts";
import { createTestKey, depositToGateway, fundedKey, keyBalance } from "./testing.ts";

let t: TestChain;
let deployment: Deployment;
const providers: TestProvider[] = [];
let gateway: Gateway;
let url: string;
let apiKey: string;

async function balance(name: string): Promise<bigint> {
  return t.publicClient.readContract({
    address: deployment.token.address,
    abi: testUSDAbi,
    functionName: "balanceOf",
    args: [t.account(name).address],
  });
}

before(async () => {
  t = await createTestChain();
  deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  providers.push(await startTestProvider({ t, deployment, account: "provider-1", outputPricePerMTok: 2_000_000n }));
  providers.push(await startTestProvider({ t, deployment, account: "provider-2", outputPricePerMTok: 3_000_000n }));
  await mintTestUSD(t, deployment, "gateway", 100_000_000n);
  gateway = createGateway({
    allowPrivateEndpoints: true,
    deployment,
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account("gateway").privateKey),
    stateDir: await gatewayStateDir(),
    indexerPollMs: 50,
    probeIntervalMs: 200,
  });
  url = (await gateway.start()).url;
  // client-1 funds a prepaid balance: a key bound to its address, then a deposit to the gateway.
  const created = await fundedKey({ t, deployment, url, account: "client-1", amount: 5_000_000n });
  apiKey = created.key;
});
after(async () => {
  await gateway.stop();
  for (const p of providers) await p.close();
  await t.close();
});

test("the official openai client with a gateway API key gets completions, charged once from the prepaid balance", async () => {
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 });
  const models = await client.models.list();
  assert.deepEqual(
    models.data.map((m) => m.id),
    ["verity-tiny"],
  );
  const before = (await (
    await fetch(`${url}/v1/balance`, { headers: { authorization: `Bearer ${apiKey}` } })
  ).json()) as { balance: string };
  const completion = await client.chat.completions.create({
    model: "verity-tiny",
    messages: [{ role: "user", content: "hello gateway" }],
    max_tokens: 12,
  });
  const charged = BigInt(
    (completion as unknown as { verity: { gateway: { charged: string } } }).verity.gateway.charged,
  );
  assert.ok(charged > 0n);
  const stream = await client.chat.completions.create({
    model: "verity-tiny",
    messages: [{ role: "user", content: "stream it" }],
    max_tokens: 12,
    stream: true,
  });
  let text = "";
  let streamCharged = 0n;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    const v = (chunk as unknown as { verity?: { gateway: { charged: string } } }).verity;
    if (v) streamCharged = BigInt(v.gateway.charged);
  }
  assert.ok(text.length > 0 && streamCharged > 0n);
  const after = (await (
    await fetch(`${url}/v1/balance`, { headers: { authorization: `Bearer ${apiKey}` } })
  ).json()) as { balance: string };
  assert.equal(BigInt(before.balance) - BigInt(after.balance), charged + streamCharged);
});

test("an unmodified x402 client pays per request and gets a completion", async () => {
  await mintTestUSD(t, deployment, "client-2", 5_000_000n);
  const account = privateKeyToAccount(t.account("client-2").privateKey);
  const x402 = new x402Client()
    .register(`eip155:${t.chain.id}`, new ExactEvmScheme(toClientEvmSigner(account)))
    .setSpendControls({
      allowedAssets: [
        { network: `eip155:${t.chain.id}`, asset: deployment.token.address, maxAmountPerPayment: "1000000" },
      ],
    });
  const paying = wrapFetchWithPayment(fetch, x402);
  const before = await balance("client-2");
  const response = await paying(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "verity-tiny",
      messages: [{ role: "user", content: "pay per call" }],
      max_tokens: 8,
    }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  assert.ok(response.headers.get("payment-response"));
  const body = (await response.json()) as {
    choices: { message: { content: string } }[];
    verity: { gateway: { charged: string } };
  };
  assert.equal(before - (await balance("client-2")), BigInt(body.verity.gateway.charged));

  // attack (issue 12 #2): the settlement the gateway received is not credited to the payer as a
  // prepaid deposit. A later 1-unit deposit is credited once the watcher has scanned past it.
  const { key } = await createTestKey({ t, url, account: "client-2" });
  await depositToGateway({ t, deployment, account: "client-2", gateway: t.account("gateway").address, amount: 1n });
  let prepaid = 0n;
  for (let i = 0; i < 400 && prepaid === 0n; i++) {
    prepaid = (await keyBalance(url, key)) ?? 0n;
    if (prepaid === 0n) await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(prepaid, 1n, "only the explicit deposit is credited, not the x402 settlement");
});

test("quote says who would serve a request and why not", async () => {
  const ok = (await (await fetch(`${url}/v1/quote?model=verity-tiny&max_tokens=16`)).json()) as {
    servable: boolean;
    providers: unknown[];
  };
  assert.equal(ok.servable, true);
  assert.equal(ok.providers.length, 2);
  const none = (await (await fetch(`${url}/v1/quote?model=gpt-9&max_tokens=16`)).json()) as {
    servable: boolean;
    reason: string;
  };
  assert.deepEqual([none.servable, none.reason], [false, "no_offer_for_model"]);
  const dear = (await (await fetch(`${url}/v1/quote?model=verity-tiny&max_tokens=16&max_price_out=1`)).json()) as {
    reason: string;
  };
  assert.equal(dear.reason, "all_above_max_price");
  const providersList = (await (await fetch(`${url}/v1/providers`)).json()) as {
    data: { agentId: string; healthy: boolean }[];
  };
  assert.equal(providersList.data.length, 2);
});

test("bad input gets a clear status and code and charges nothing", async () => {
  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}`, ...headers },
      body,
    });
  const before = (await (
    await fetch(`${url}/v1/balance`, { headers: { authorization: `Bearer ${apiKey}` } })
  ).json()) as { balance: string };
  const cases: [Promise<Response>, number, string][] = [
    [post("{nope"), 400, "invalid_json"],
    [post(JSON.stringify({ model: "verity-tiny" })), 400, "invalid_request"],
    [post(JSON.stringify({ model: "gpt-9", messages: [{ role: "user", content: "x" }] })), 404, "no_offer_for_model"],
    [
      post(JSON.stringify({ model: "verity-tiny", messages: [{ role: "user", content: "x" }] }), {
        "verity-max-price": ",1",
      }),
      402,
      "all_above_max_price",
    ],
    [
      post(JSON.stringify({ model: "verity-tiny", messages: [{ role: "user", content: "x" }], max_tokens: 100_000 })),
      400,
      "max_tokens_over_offer",
    ],
    [
      post(JSON.stringify({ model: "verity-tiny", messages: [{ role: "user", content: "x" }] }), {
        authorization: "Bearer vk_unknown",
      }),
      401,
      "invalid_api_key",
    ],
  ];
  for (const [promise, status, code] of cases) {
    const response = await promise;
    const body = (await response.json()) as { error: { code: string } };
    assert.deepEqual([response.status, body.error.code], [status, code]);
  }
  const poor = await createTestKey({ t, url, account: "client-5" });
  const broke = await post(JSON.stringify({ model: "verity-tiny", messages: [{ role: "user", content: "x" }] }), {
    authorization: `Bearer ${poor.key}`,
  });
  assert.deepEqual(
    [broke.status, ((await broke.json()) as { error: { code: string } }).error.code],
    [402, "insufficient_balance"],
  );
  const keyless = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "verity-tiny", messages: [{ role: "user", content: "x" }] }),
  });
  assert.equal(keyless.status, 402);
  assert.ok(keyless.headers.get("payment-required"));
  const after = (await (
    await fetch(`${url}/v1/balance`, { headers: { authorization: `Bearer ${apiKey}` } })
  ).json()) as { balance: string };
  assert.equal(after.balance, before.balance);
});

test("the explorer data API reports the network, providers, models and recent events", async () => {
  const network = (await (await fetch(`${url}/api/network`)).json()) as {
    providers: number;
    models: string[];
    stakeLocked: string;
    openChannels: number;
  };
  assert.equal(network.providers, 2);
  assert.deepEqual(network.models, ["verity-tiny"]);
  assert.ok(BigInt(network.stakeLocked) > 0n);
  assert.ok(network.openChannels >= 1, "the gateway opened channels to pay providers");
  const providersApi = (await (await fetch(`${url}/api/providers`)).json()) as {
    data: { agentId: string; offers: unknown[] }[];
  };
  assert.equal(providersApi.data.length, 2);
  const models = (await (await fetch(`${url}/api/models`)).json()) as {
    data: { name: string; providers: number; royaltyBps: number }[];
  };
  assert.deepEqual(
    models.data.map((m) => [m.name, m.providers]),
    [["verity-tiny", 2]],
  );
  const events = (await (await fetch(`${url}/api/events?limit=5`)).json()) as {
    data: { name: string; tx_hash: string }[];
  };
  assert.equal(events.data.length, 5);
  assert.match(events.data[0]?.tx_hash ?? "", /^0x[0-9a-f]{64}$/);
});

test("a gateway refuses to start on a deployment without GatewayDeposits, and /health names where deposits go", async () => {
  const { GatewayDeposits, ...older } = deployment.contracts;
  assert.ok(GatewayDeposits);
  const outdated = createGateway({
    deployment: { ...deployment, contracts: older },
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account("client-3").privateKey),
    stateDir: await gatewayStateDir(),
    port: 0,
  });
  await assert.rejects(outdated.start(), (e: { code?: string }) => e.code === "deployment_outdated");
  await outdated.stop();
  const health = (await (await fetch(`${url}/health`)).json()) as Record<string, unknown>;
  assert.equal(health.address, t.account("gateway").address);
  assert.equal(health.depositsContract, GatewayDeposits.address);
  assert.equal(health.chainId, deployment.chainId);
});
