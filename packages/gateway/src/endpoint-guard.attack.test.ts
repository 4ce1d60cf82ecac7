import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { connectChain, deploy } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import type { Deployment } from "@verity/core";
import { onboardProvider } from "@verity/provider";
import { privateKeyToAccount } from "viem/accounts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import { createGateway, type Gateway } from "./gateway.ts";
import { fundedKey, keyBalance } from "./testing.ts";

let t: TestChain;
let deployment: Deployment;
let honest: TestProvider;
let internal: Server;
let internalUrl: string;
let connections = 0;
const METADATA_URL = "http://169.254.169.254";
const agents: Record<string, bigint> = {};

/** A gateway over the test chain; `allowPrivateEndpoints` decides whether loopback offers are contacted. */
function startGateway(allowPrivateEndpoints: boolean): Gateway {
  return createGateway({
    allowPrivateEndpoints,
    deployment,
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account(allowPrivateEndpoints ? "client-6" : "gateway").privateKey),
    stateDir: mkdtempSync(join(tmpdir(), "verity-gateway-ssrf-")),
    indexerPollMs: 50,
    probeIntervalMs: 100,
    onRefund: () => {},
  });
}

/** An attacker stakes an agent and registers an offer for the honest provider's model at `endpoint`. */
async function registerOffer(account: string, endpoint: string): Promise<bigint> {
  await mintTestUSD(t, deployment, account, 1_000_000_000n);
  const clients = await connectChain({
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account(account).privateKey),
    expectedChainId: deployment.chainId,
  });
  const engine = honest.engines[0];
  assert.ok(engine);
  const result = await onboardProvider({
    clients,
    deployment,
    agentURI: `${endpoint}/.well-known/agent-registration.json`,
    stake: 500_000_000n,
    endpoint,
    offers: [
      {
        name: engine.name,
        identity: engine.identity,
        inputPricePerMTok: 1n, // far cheaper than the honest offer: the router would pick it first
        outputPricePerMTok: 1n,
        maxOutputTokens: 256,
      },
    ],
  });
  return result.agentId;
}

before(async () => {
  t = await createTestChain();
  deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  honest = await startTestProvider({ t, deployment, account: "provider-1" });
  // A service on the gateway's machine that must never be reached through an offer.
  internal = createServer((req, res) => {
    if (req.url === "/health") res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
    else res.writeHead(500).end();
  });
  internal.on("connection", () => connections++);
  await new Promise<void>((resolve) => internal.listen(0, "127.0.0.1", resolve));
  internalUrl = `http://127.0.0.1:${(internal.address() as { port: number }).port}`;
  agents.loopback = await registerOffer("provider-5", internalUrl);
  agents.metadata = await registerOffer("provider-6", METADATA_URL);
  await mintTestUSD(t, deployment, "gateway", 100_000_000n);
  await mintTestUSD(t, deployment, "client-6", 100_000_000n);
});
after(async () => {
  await honest.close();
  await new Promise<void>((resolve) => internal.close(() => resolve()));
  await t.close();
});

type ProviderRow = { agentId: string; url: string; healthy: boolean; reason?: string };

test("attack: offers at a loopback service and at cloud metadata are never probed or paid by a guarded gateway", async () => {
  const gateway = startGateway(false);
  const lines: string[] = [];
  const log = console.error;
  console.error = (...args: unknown[]) => {
    lines.push(args.map(String).join(" "));
  };
  try {
    const { url } = await gateway.start();
    // The prober runs every 100 ms: let several rounds pass before looking.
    await new Promise((resolve) => setTimeout(resolve, 600));
    const rows = ((await (await fetch(`${url}/v1/providers`)).json()) as { data: ProviderRow[] }).data;
    for (const endpoint of [internalUrl, METADATA_URL]) {
      const row = rows.find((r) => r.url === endpoint);
      assert.ok(row, `${endpoint} is listed`);
      assert.equal(row.healthy, false);
      assert.equal(row.reason, "endpoint_forbidden");
    }
    const refusals = lines.filter((l) => l.includes("endpoint_forbidden"));
    assert.equal(
      refusals.filter((l) => l.includes(internalUrl)).length,
      1,
      "the refused offer is logged once, not once per probe round",
    );
    assert.equal(refusals.filter((l) => l.includes(METADATA_URL)).length, 1);

    // A paid request: the cheap attacker offers are not routed to (the honest provider is on
    // loopback too, so nothing here is allowed) and nothing is charged.
    const { key } = await fundedKey({ t, deployment, url, account: "client-1", amount: 5_000_000n });
    const before = await keyBalance(url, key);
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "verity-tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 8 }),
    });
    const body = (await response.json()) as { error: { code: string } };
    assert.equal(response.status, 503);
    assert.equal(body.error.code, "all_unhealthy");
    assert.equal(await keyBalance(url, key), before, "a refused request charges nothing");

    // The gateway's own paying client, asked for the loopback attacker by agent id, refuses too.
    const client = gateway.client;
    assert.ok(client);
    const refused = await client.chat.completions
      .create({ model: "verity-tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 8 }, {
        agentId: agents.loopback,
      } as never)
      .then(
        () => undefined,
        (error: { code?: string }) => error.code,
      );
    assert.ok(refused === "no_healthy_offer" || refused === "endpoint_forbidden", String(refused));
    assert.equal(connections, 0, "the internal service saw no connection from probes or paid requests");
  } finally {
    console.error = log;
    await gateway.stop();
  }
});

test("attack control: a gateway started with allowPrivateEndpoints does reach the same loopback offer", async () => {
  const gateway = startGateway(true);
  try {
    const { url } = await gateway.start();
    assert.ok(connections > 0, "the open gateway probed the loopback endpoint");
    const rows = ((await (await fetch(`${url}/v1/providers`)).json()) as { data: ProviderRow[] }).data;
    const row = rows.find((r) => r.url === internalUrl);
    assert.equal(row?.healthy, true);
    assert.equal(row?.reason, undefined);
  } finally {
    await gateway.stop();
  }
});
