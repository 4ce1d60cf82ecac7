/**
 * Providers that bill through their receipts: one that backdates them (a real provider whose
 * receipt clock runs an hour behind), and one that asks for a larger ceiling and then bills more
 * prompt tokens than the prompt holds (a relay in front of a real provider, re-signing with the
 * provider's own key).
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Listening, listen } from "@verity/chain";
import { chargeFor, receiptDomain, receiptFromJson, receiptTypes, type SignedReceiptJson } from "@verity/core";
import { Hono } from "hono";
import { type LocalAccount, privateKeyToAccount } from "viem/accounts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import type { ProviderFlag } from "./provider-flags.ts";
import { createVerityClient, type VerityClient } from "./verity-client.ts";

let p: TestProvider;
let backdating: TestProvider;
let providerKey: LocalAccount;
let relay: Listening;
let directory: Listening;
const clients: VerityClient[] = [];
const messages = [{ role: "user" as const, content: "Tell me about receipts." }];
const price = { inputPerMTok: 1_000_000n, outputPerMTok: 2_000_000n };

/** Asks for a ceiling of 5000 on a request's first voucher, then bills 1000 prompt tokens the prompt does not have. */
async function startInflatingRelay(): Promise<Listening> {
  const asked = new Set<string>();
  const app = new Hono();
  app.post("/v1/*", async (c) => {
    const body = await c.req.text();
    // The request without its seed fields (they follow the voucher amount, which the retry raises).
    const { verity: _seed, ...request } = JSON.parse(body) as Record<string, unknown>;
    const key = JSON.stringify(request);
    if (!asked.has(key)) {
      asked.add(key);
      return c.json(
        {
          error: { code: "voucher_below_ceiling", message: "The voucher does not cover the request's maximum charge" },
          payment: { ceiling: "5000" },
        },
        402,
      );
    }
    const upstream = await fetch(`${p.url}${new URL(c.req.url).pathname}`, {
      method: "POST",
      headers: { "content-type": "application/json", "verity-voucher": c.req.header("verity-voucher") ?? "" },
      body,
    });
    const answer = (await upstream.json()) as {
      usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
      verity: Record<string, unknown> & SignedReceiptJson;
    };
    if (!upstream.ok) return c.json(answer, upstream.status as 400);
    const receipt = { ...answer.verity.receipt };
    const promptTokens = Number(receipt.promptTokens) + 1000;
    const charge = chargeFor({ price, promptTokens, completionTokens: Number(receipt.completionTokens) });
    const extra = charge - BigInt(receipt.charge);
    receipt.promptTokens = promptTokens;
    receipt.charge = charge.toString();
    receipt.cumulativeCharged = (BigInt(receipt.cumulativeCharged) + extra).toString();
    const signature = await providerKey.signTypedData({
      domain: receiptDomain({
        chainId: p.deployment.chainId,
        verifyingContract: p.deployment.contracts.PaymentChannels.address,
      }),
      types: receiptTypes,
      primaryType: "Receipt",
      message: receiptFromJson(receipt),
    });
    return c.json(
      {
        ...answer,
        usage: { ...answer.usage, prompt_tokens: promptTokens, total_tokens: answer.usage.total_tokens + 1000 },
        verity: {
          ...answer.verity,
          receipt,
          signature,
          charge: receipt.charge,
          charged: receipt.cumulativeCharged,
        },
      },
      200,
      { "verity-request-id": upstream.headers.get("verity-request-id") ?? "" },
    );
  });
  app.get("/health", (c) => c.json({ status: "ok" }));
  return listen({ fetch: app.fetch });
}

async function newClient(
  name: string,
  options: { directory?: { gatewayUrl: string }; onFlag?: (flag: ProviderFlag) => void } = {},
) {
  const client = createVerityClient({
    provider: p.t.edr.provider,
    deployment: p.deployment,
    account: privateKeyToAccount(p.t.account("client-4").privateKey),
    stateDir: mkdtempSync(join(tmpdir(), `verity-sdk-${name}-`)),
    indexerPollMs: 50,
    autoOpen: { amount: 1_000_000n },
    audit: { p: 0 },
    ...(options.directory ? { directory: options.directory } : {}),
    ...(options.onFlag ? { onProviderFlagged: options.onFlag } : {}),
  });
  clients.push(client);
  await client.start();
  return client;
}

before(async () => {
  p = await startTestProvider();
  providerKey = privateKeyToAccount(p.t.account("provider-1").privateKey);
  backdating = await startTestProvider({
    t: p.t,
    deployment: p.deployment,
    account: "provider-2",
    receiptClock: () => Date.now() - 3_600_000,
  });
  await mintTestUSD(p.t, p.deployment, "client-4", 100_000_000n);
  relay = await startInflatingRelay();
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
  await backdating.close();
  await p.close();
});

test("attack: a provider backdates its receipts by an hour", async () => {
  const flags: ProviderFlag[] = [];
  const client = await newClient("backdated", { onFlag: (f) => flags.push(f) });
  await assert.rejects(
    client.chat.completions.create(
      { model: "verity-tiny", messages, max_tokens: 8 },
      { agentId: backdating.info.agentId },
    ),
    { name: "PaymentError", code: "receipt_timestamp_invalid" },
  );
  assert.deepEqual(
    flags.map((f) => [f.agentId, f.code]),
    [[backdating.info.agentId, "receipt_timestamp_invalid"]],
  );
  const [channel] = await client.channels();
  assert.equal(channel?.agentId, backdating.info.agentId);
  assert.equal(channel?.charged, 0n, "a backdated receipt proves no charge");
  assert.ok(channel && channel.pending > 0n, "the voucher the provider holds stays counted");
  await assert.rejects(
    client.chat.completions.create(
      { model: "verity-tiny", messages, max_tokens: 8 },
      { agentId: backdating.info.agentId },
    ),
    { code: "no_healthy_offer" },
    "the flagged provider is no longer routed to",
  );
  // The same request to a provider with a true clock is accepted.
  const honest = await client.chat.completions.create(
    { model: "verity-tiny", messages, max_tokens: 8 },
    { agentId: p.info.agentId },
  );
  assert.ok(BigInt(honest.verity.charge) > 0n);
});

test("attack: a provider asks for a larger ceiling, then bills prompt tokens the prompt does not have", async () => {
  const flags: ProviderFlag[] = [];
  const client = await newClient("inflated", {
    directory: { gatewayUrl: directory.url },
    onFlag: (f) => flags.push(f),
  });
  await assert.rejects(client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 8 }), {
    name: "PaymentError",
    code: "overcharged",
  });
  assert.deepEqual(
    flags.map((f) => [f.agentId, f.code]),
    [[p.info.agentId, "overcharged"]],
  );
  const [channel] = await client.channels();
  assert.ok(channel);
  assert.equal(channel.charged, 0n, "the inflated charge is never accepted into the channel's state");
  assert.ok(channel.highestSigned >= 5000n, "the retry did sign the larger ceiling");
  assert.equal(channel.pending, 5000n, "only the voucher the provider holds stays counted");
});
