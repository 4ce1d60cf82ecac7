/**
 * Two gateway replicas — separate `verity gateway start` processes — on one Postgres and one chain
 * (served over JSON-RPC), each paying the provider from its own payer key, drain one prepaid key
 * together with concurrent requests. The money invariants must hold across them.
 */
import assert from "node:assert/strict";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { startTestNetwork, startVerity } from "../../cli/src/cli-testing.ts";
import { mintTestUSD, startTestProvider } from "../../provider/src/testing.ts";
import { createPostgresStore } from "./store/postgres-store.ts";
import { startTestPostgres } from "./store/postgres-testing.ts";
import { fundedKey, keyBalance } from "./testing.ts";

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  while (cleanup.length > 0)
    await cleanup
      .pop()?.()
      .catch(() => undefined);
});

const DEPOSIT = 3_000n;

test("two gateway processes on one Postgres drain one prepaid key: never below zero, each answer charged once", async (t) => {
  const server = await startTestPostgres();
  if ("skip" in server) {
    t.skip(`Postgres not installed: ${server.skip}`);
    return;
  }
  cleanup.push(() => server.stop());
  const database = await server.createDatabase();
  const net = await startTestNetwork();
  cleanup.push(() => net.close());
  const provider = await startTestProvider({ t: net.t, deployment: net.deployment, account: "provider-1" });
  cleanup.push(() => provider.close());
  const keyFile = (name: string) => {
    const path = join(net.dir, `${name}.key`);
    writeFileSync(path, net.key(name));
    chmodSync(path, 0o600);
    return path;
  };
  // Each replica pays providers from its own account (its own channels, vouchers and nonces).
  for (const payer of ["client-5", "client-6"]) await mintTestUSD(net.t, net.deployment, payer, 100_000_000n);
  const replicas = await Promise.all(
    ["client-5", "client-6"].map(async (payer, i) => {
      const started = await startVerity([
        ...["gateway", "start", "--rpc", net.rpcUrl, "--deployment", net.deploymentFile],
        ...["--key-file", keyFile("gateway"), "--payer-key-file", keyFile(payer), "--replica-id", `replica-${i + 1}`],
        ...["--state-dir", join(net.dir, `replica-${i + 1}`), "--database", database, "--port", "0"],
        ...["--allow-private-offers", "--deposit-confirmations", "0", "--no-x402"],
      ]);
      cleanup.push(() => started.stop());
      return { url: String(started.ready.url), stop: started.stop };
    }),
  );
  const [one, two] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
  const { key } = await fundedKey({
    t: net.t,
    deployment: net.deployment,
    url: one.url,
    account: "client-1",
    amount: DEPOSIT,
  });
  assert.equal(await keyBalance(two.url, key), DEPOSIT, "the other replica sees the same balance");

  type Outcome = { status: number; charged?: bigint; requestId?: string; code?: string };
  const outcomes: Outcome[] = [];
  const lowest: bigint[] = [];
  async function ask(url: string): Promise<Outcome> {
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: "verity-tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
    });
    const body = (await response.json()) as {
      verity?: { requestId: string; gateway: { charged: string } };
      error?: { code: string };
    };
    if (response.status === 200 && body.verity)
      return { status: 200, charged: BigInt(body.verity.gateway.charged), requestId: body.verity.requestId };
    return { status: response.status, ...(body.error ? { code: body.error.code } : {}) };
  }
  // Rounds of concurrent requests through both replicas until a whole round is refused.
  for (let round = 0; round < 100; round++) {
    const batch = await Promise.all(Array.from({ length: 6 }, (_, i) => ask(i % 2 === 0 ? one.url : two.url)));
    outcomes.push(...batch);
    lowest.push((await keyBalance(one.url, key)) as bigint, (await keyBalance(two.url, key)) as bigint);
    if (batch.every((o) => o.status !== 200)) break;
  }
  const served = outcomes.filter((o) => o.status === 200);
  const refused = outcomes.filter((o) => o.status !== 200);
  t.diagnostic(`${served.length} answered, ${refused.length} refused over ${outcomes.length / 6} rounds`);
  assert.ok(served.length >= 4, `only ${served.length} answers`);
  assert.ok(refused.length >= 6, "the balance ran out");
  for (const o of refused) assert.deepEqual([o.status, o.code], [402, "insufficient_balance"]);
  for (const b of lowest) assert.ok(b >= 0n, `a balance of ${b} was seen`);

  const store = createPostgresStore({ url: database, max: 2 });
  cleanup.push(() => store.close());
  const final = (await keyBalance(one.url, key)) as bigint;
  assert.ok(final >= 0n);
  const charges = served.reduce((sum, o) => sum + (o.charged ?? 0n), 0n);
  for (const o of served) assert.ok((o.charged ?? 0n) > 0n, "an answer was charged");
  assert.equal(charges, DEPOSIT - final, "sum of charges = deposit − final balance");
  const entries = await store.query<{ ref: string; delta: string }>(
    "SELECT ref, delta FROM ledger WHERE reason = 'request' ORDER BY id",
  );
  assert.equal(entries.length, served.length, "one ledger entry per answer, none for a refusal");
  const byRef = new Map(entries.map((e) => [e.ref, -BigInt(e.delta)]));
  for (const o of served) assert.equal(byRef.get(o.requestId ?? ""), o.charged, `request ${o.requestId} charged once`);
  const [holds] = await store.query<{ n: string }>("SELECT count(*) AS n FROM holds");
  assert.equal(Number(holds?.n), 0, "no hold left open");
  const replicasOfHolds = await store.query<{ payer: string }>(
    "SELECT DISTINCT customer AS payer FROM paid_requests WHERE customer IS NOT NULL",
  );
  assert.deepEqual(
    replicasOfHolds.map((r) => r.payer),
    [net.t.account("client-1").address.toLowerCase()],
  );
  // Each replica paid the provider from its own payer key: one channel per replica.
  const channels = await store.query<{ channel_id: string }>("SELECT DISTINCT channel_id FROM paid_requests");
  assert.equal(channels.length, 2, "two replicas, two payer channels");
  for (const r of replicas) assert.equal(await r.stop(), 0);
});
