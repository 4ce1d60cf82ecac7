/**
 * Providers that try to pick the seed their answer is sampled with, or to learn which answers are
 * audited: a relay in front of a real provider rewrites the request's seed fields before the
 * provider sees them, so the real provider signs the relay's choice into its receipt.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Listening, listen } from "@verity/chain";
import { Hono } from "hono";
import { privateKeyToAccount } from "viem/accounts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import type { AuditSample } from "./audit-queue.ts";
import type { ProviderFlag } from "./provider-flags.ts";
import { createVerityClient, type VerityClient } from "./verity-client.ts";

type Mode = "choose-seed" | "swap-commit" | "replay-seed" | "drop-seed";

let p: TestProvider;
let relay: Listening;
let directory: Listening;
let mode: Mode = "choose-seed";
let firstSeed: string | undefined;
const clients: VerityClient[] = [];
const messages = [{ role: "user" as const, content: "Pick a number." }];
const chosen = `0x${"77".repeat(32)}`;

/** Forwards to the real provider after rewriting `verity.seed_key` / `verity.audit_commit` per `mode`. */
async function startSeedRelay(): Promise<Listening> {
  const app = new Hono();
  app.post("/v1/*", async (c) => {
    const body = (await c.req.json()) as { verity?: { seed_key?: string; audit_commit?: string } };
    const sent = body.verity ?? {};
    if (mode === "choose-seed") body.verity = { ...sent, seed_key: chosen };
    if (mode === "swap-commit") body.verity = { ...sent, audit_commit: chosen };
    if (mode === "replay-seed") {
      firstSeed ??= sent.seed_key;
      body.verity = { ...sent, ...(firstSeed ? { seed_key: firstSeed } : {}) };
    }
    if (mode === "drop-seed") delete body.verity;
    const upstream = await fetch(`${p.url}${new URL(c.req.url).pathname}`, {
      method: "POST",
      headers: { "content-type": "application/json", "verity-voucher": c.req.header("verity-voucher") ?? "" },
      body: JSON.stringify(body),
    });
    return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
  });
  app.get("/health", (c) => c.json({ status: "ok" }));
  return listen({ fetch: app.fetch });
}

async function newClient(
  name: string,
  onFlag: (flag: ProviderFlag) => void,
  onSample?: (s: AuditSample) => void,
  requireSeed = false,
) {
  const client = createVerityClient({
    provider: p.t.edr.provider,
    deployment: p.deployment,
    account: privateKeyToAccount(p.t.account("client-5").privateKey),
    stateDir: mkdtempSync(join(tmpdir(), `verity-sdk-seed-${name}-`)),
    indexerPollMs: 50,
    autoOpen: { amount: 1_000_000n },
    audit: { p: 1, ...(onSample ? { onSample } : {}) },
    directory: { gatewayUrl: directory.url },
    onProviderFlagged: onFlag,
    ...(requireSeed ? { requireSeed: true } : {}),
  });
  clients.push(client);
  await client.start();
  return client;
}

before(async () => {
  p = await startTestProvider();
  await mintTestUSD(p.t, p.deployment, "client-5", 100_000_000n);
  relay = await startSeedRelay();
  const app = new Hono();
  app.get("/v1/providers", (c) =>
    c.json({
      data: [
        {
          agentId: p.info.agentId.toString(),
          url: relay.url,
          model: "verity-tiny",
          modelId: p.info.models[0]?.modelId.toString(),
          inputPricePerMTok: "1000000",
          outputPricePerMTok: "2000000",
          maxOutputTokens: 256,
          healthy: true,
        },
      ],
    }),
  );
  directory = await listen({ fetch: app.fetch });
});

after(async () => {
  for (const client of clients) await client.stop();
  await directory.close();
  await relay.close();
  await p.close();
});

const ask = (client: VerityClient) =>
  client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 6, temperature: 1 });

test("attack: a provider samples with a seed of its own choosing; the SDK refuses the receipt", async () => {
  mode = "choose-seed";
  const flags: ProviderFlag[] = [];
  const client = await newClient("choose", (f) => flags.push(f));
  await assert.rejects(ask(client), { name: "PaymentError", code: "seed_derivation_mismatch" });
  assert.deepEqual(
    flags.map((f) => [f.agentId, f.code]),
    [[p.info.agentId, "seed_derivation_mismatch"]],
  );
  const [channel] = await client.channels();
  assert.equal(channel?.charged, 0n, "a receipt with a chosen seed proves no charge");
  assert.equal((await client.transcripts()).length, 0, "nothing is kept or sampled for audit");
});

test("attack: a provider replays the seed of an earlier request; the SDK refuses the second receipt", async () => {
  mode = "replay-seed";
  firstSeed = undefined;
  const flags: ProviderFlag[] = [];
  const client = await newClient("replay", (f) => flags.push(f));
  const first = await ask(client);
  assert.ok(BigInt(first.verity.charge) > 0n);
  await assert.rejects(ask(client), { name: "PaymentError", code: "seed_derivation_mismatch" });
  assert.deepEqual(
    flags.map((f) => f.code),
    ["seed_derivation_mismatch"],
  );
});

test("attack: a provider signs another audit commitment; the SDK refuses the receipt", async () => {
  mode = "swap-commit";
  const flags: ProviderFlag[] = [];
  const client = await newClient("commit", (f) => flags.push(f));
  await assert.rejects(ask(client), { name: "PaymentError", code: "audit_commit_mismatch" });
  assert.deepEqual(
    flags.map((f) => f.code),
    ["audit_commit_mismatch"],
  );
});

test("a provider that drops the seed fields (an older one) is served without seed-synced audits, and reveals nothing", async () => {
  mode = "drop-seed";
  const flags: ProviderFlag[] = [];
  const samples: AuditSample[] = [];
  const client = await newClient(
    "drop",
    (f) => flags.push(f),
    (s) => samples.push(s),
  );
  const answer = await ask(client);
  assert.ok(BigInt(answer.verity.charge) > 0n);
  assert.deepEqual(flags, []);
  const [sample] = samples;
  assert.ok(sample?.sampling);
  assert.equal(sample.sampling.seedKey, undefined);
  assert.equal(sample.reveal, undefined, "the audit secret is revealed only for receipts that commit to it");
});

test("attack: a provider drops the seed to escape seed-synced audits; a client that requires seeds refuses it", async () => {
  mode = "drop-seed";
  const flags: ProviderFlag[] = [];
  const client = await newClient("require", (f) => flags.push(f), undefined, true);
  await assert.rejects(ask(client), { name: "PaymentError", code: "missing_seed" });
  assert.deepEqual(
    flags.map((f) => f.code),
    ["missing_seed"],
  );
});
