/**
 * Providers that cheat, built as real HTTP servers in front of a real provider: each proxies the
 * request (voucher and all) and rewrites what comes back. A gateway directory (also a real server)
 * lists the proxy as the provider's endpoint, so the client pays through it.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Listening, listen } from "@verity/chain";
import {
  decodeVoucherHeader,
  receiptDomain,
  receiptFromJson,
  receiptTypes,
  type SignedReceiptJson,
} from "@verity/core";
import { Hono } from "hono";
import { type LocalAccount, privateKeyToAccount } from "viem/accounts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import type { AuditSample } from "./audit-queue.ts";
import type { ProviderFlag } from "./provider-flags.ts";
import { createVerityClient, type VerityClient } from "./verity-client.ts";

type Mode = "honest" | "overcharge" | "missign" | "omit" | "ask-more" | "no-transcript" | "forged-transcript";

let p: TestProvider;
let providerKey: LocalAccount;
let gateway: Listening;
const proxies = new Map<Mode, Listening>();
const clients: VerityClient[] = [];
const messages = [{ role: "user" as const, content: "Tell me about receipts." }];

async function resign(
  signed: SignedReceiptJson,
  account: LocalAccount,
  change: (r: SignedReceiptJson["receipt"]) => void,
) {
  const receipt = { ...signed.receipt };
  change(receipt);
  const signature = await account.signTypedData({
    domain: receiptDomain({
      chainId: p.deployment.chainId,
      verifyingContract: p.deployment.contracts.PaymentChannels.address,
    }),
    types: receiptTypes,
    primaryType: "Receipt",
    message: receiptFromJson(receipt),
  });
  return { receipt, signature, signer: account.address };
}

/** Rewrites a response's `verity` section the way `mode` cheats. */
async function tamper(mode: Mode, verity: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
  const signed = { receipt: verity.receipt, signature: verity.signature, signer: verity.signer } as SignedReceiptJson;
  if (mode === "omit") return undefined;
  if (mode === "no-transcript") {
    const { transcript: _dropped, ...rest } = verity;
    return rest;
  }
  if (mode === "forged-transcript") {
    // Ids that look right but are not what the receipt commits to.
    const transcript = verity.transcript as { outputTokenIds: number[] };
    return { ...verity, transcript: { ...transcript, outputTokenIds: transcript.outputTokenIds.map((t) => t ^ 1) } };
  }
  if (mode === "overcharge") {
    // A genuine signature by the provider's own key over an inflated charge.
    const out = await resign(signed, providerKey, (r) => {
      r.charge = (BigInt(r.charge) + 7n).toString();
      r.cumulativeCharged = (BigInt(r.cumulativeCharged) + 7n).toString();
    });
    return { ...verity, ...out, charge: out.receipt.charge, charged: out.receipt.cumulativeCharged };
  }
  if (mode === "missign") {
    const stranger = privateKeyToAccount(p.t.account("validator-1").privateKey);
    const out = await resign(signed, stranger, () => {});
    return { ...verity, ...out, signer: providerKey.address };
  }
  return verity;
}

async function startProxy(mode: Mode): Promise<Listening> {
  const app = new Hono();
  app.post("/v1/*", async (c) => {
    const voucher = decodeVoucherHeader(c.req.header("verity-voucher") ?? "");
    if (mode === "ask-more" && voucher.cumulativeAmount < 5_000n) {
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
      body: await c.req.text(),
    });
    const type = upstream.headers.get("content-type") ?? "";
    const headers = { "verity-request-id": upstream.headers.get("verity-request-id") ?? "" };
    if (type.includes("text/event-stream")) {
      const events = (await upstream.text()).split("\n\n").filter((e) => e.startsWith("data:"));
      const out: string[] = [];
      for (const event of events) {
        const data = event.slice(5).trim();
        if (!data.includes('"verity"')) {
          out.push(`data: ${data}\n\n`);
          continue;
        }
        const chunk = JSON.parse(data) as { verity: Record<string, unknown> };
        const verity = await tamper(mode, chunk.verity);
        if (verity) out.push(`data: ${JSON.stringify({ ...chunk, verity })}\n\n`);
      }
      return new Response(out.join(""), { headers: { ...headers, "content-type": "text/event-stream" } });
    }
    const body = (await upstream.json()) as { verity?: Record<string, unknown> };
    if (!upstream.ok || !body.verity) return c.json(body, upstream.status as 400);
    const verity = await tamper(mode, body.verity);
    const { verity: _dropped, ...rest } = body;
    return c.json(verity ? { ...rest, verity } : rest, 200, headers);
  });
  app.get("/health", (c) => c.json({ status: "ok" }));
  return listen({ fetch: app.fetch });
}

async function clientFor(
  mode: Mode,
  onFlag?: (flag: ProviderFlag) => void,
  maxCeiling?: bigint,
  onSample?: (sample: AuditSample) => void,
) {
  const client = createVerityClient({
    provider: p.t.edr.provider,
    deployment: p.deployment,
    account: privateKeyToAccount(p.t.account("client-3").privateKey),
    stateDir: mkdtempSync(join(tmpdir(), `verity-sdk-${mode}-`)),
    directory: { gatewayUrl: `${gateway.url}/${mode}` },
    autoOpen: { amount: 1_000_000n },
    ...(onFlag ? { onProviderFlagged: onFlag } : {}),
    ...(maxCeiling === undefined ? {} : { maxCeiling }),
    ...(onSample ? { audit: { p: 1, onSample } } : {}),
  });
  clients.push(client);
  await client.start();
  return client;
}

before(async () => {
  p = await startTestProvider();
  providerKey = privateKeyToAccount(p.t.account("provider-1").privateKey);
  await mintTestUSD(p.t, p.deployment, "client-3", 100_000_000n);
  for (const mode of [
    "honest",
    "overcharge",
    "missign",
    "omit",
    "ask-more",
    "no-transcript",
    "forged-transcript",
  ] as const) {
    proxies.set(mode, await startProxy(mode));
  }
  const app = new Hono();
  // The gateway's directory shape: GET /v1/providers → { data: [offer] } (one directory per mode here).
  app.get("/:mode/v1/providers", (c) =>
    c.json({
      data: [
        {
          agentId: p.info.agentId.toString(),
          url: proxies.get(c.req.param("mode") as Mode)?.url,
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
  gateway = await listen({ fetch: app.fetch });
});

after(async () => {
  for (const client of clients) await client.stop();
  for (const proxy of proxies.values()) await proxy.close();
  await gateway.close();
  await p.close();
});

test("through a gateway directory and an honest relay, receipts verify", async () => {
  const client = await clientFor("honest");
  const offers = await client.offers({ model: "verity-tiny" });
  assert.equal(offers[0]?.url, proxies.get("honest")?.url);
  const completion = await client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 8 });
  assert.equal(completion.verity.agentId, p.info.agentId.toString());
  assert.deepEqual(await client.flagged(), []);
});

test("an overcharging provider (genuinely signed) is refused, flagged and no longer routed to", async () => {
  const flags: ProviderFlag[] = [];
  const client = await clientFor("overcharge", (f) => flags.push(f));
  await assert.rejects(client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 8 }), {
    name: "PaymentError",
    code: "overcharged",
  });
  assert.deepEqual(
    flags.map((f) => [f.agentId, f.code]),
    [[p.info.agentId, "overcharged"]],
  );
  assert.deepEqual(
    (await client.flagged()).map((f) => f.code),
    ["overcharged"],
  );
  const [channel] = await client.channels();
  assert.equal(channel?.charged, 0n, "nothing beyond what a valid receipt proves is accepted");
  assert.ok(channel && channel.pending > 0n, "the voucher the provider holds stays counted");
  await assert.rejects(client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 8 }), {
    code: "no_healthy_offer",
  });
  assert.equal(await client.unflag(p.info.agentId), true);
});

test("a receipt signed by another key is refused on the stream's last chunk", async () => {
  const client = await clientFor("missign");
  const stream = await client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 8, stream: true });
  let content = 0;
  await assert.rejects(
    (async () => {
      for await (const chunk of stream) if (chunk.choices.length > 0) content++;
    })(),
    { name: "PaymentError", code: "receipt_invalid" },
  );
  assert.ok(content > 0, "content chunks arrived before the receipt was refused");
  assert.equal((await client.flagged())[0]?.code, "receipt_invalid");
});

test("a response or a finished stream without a receipt is refused", async () => {
  const client = await clientFor("omit");
  await assert.rejects(client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 8 }), {
    code: "receipt_invalid",
  });
  const streaming = await clientFor("omit");
  const stream = await streaming.completions.create({ model: "verity-tiny", prompt: "x", max_tokens: 4, stream: true });
  await assert.rejects(
    (async () => {
      for await (const _ of stream);
    })(),
    { code: "receipt_invalid" },
  );
  assert.equal((await streaming.flagged())[0]?.code, "receipt_invalid");
});

test("a 402 voucher_below_ceiling is retried once with the stated ceiling, never above the cap", async () => {
  const client = await clientFor("ask-more");
  const completion = await client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 8 });
  const [channel] = await client.channels();
  assert.equal(channel?.highestSigned, 5_000n, "the retried voucher is charged (0) + the stated ceiling");
  assert.equal(channel?.charged, BigInt(completion.verity.charged));
  const capped = await clientFor("ask-more", undefined, 4_000n);
  await assert.rejects(capped.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 8 }), {
    code: "ceiling_over_cap",
  });
});

test("an answer without a transcript matching its receipt is delivered and kept, never sampled, and its provider flagged", async () => {
  for (const mode of ["no-transcript", "forged-transcript"] as const) {
    const samples: AuditSample[] = [];
    const flags: ProviderFlag[] = [];
    const client = await clientFor(
      mode,
      (f) => flags.push(f),
      undefined,
      (sample) => samples.push(sample),
    );
    const completion = await client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 6 });
    const [channel] = await client.channels();
    assert.equal(channel?.pending, 0n, `${mode}: the charge is accepted (the receipt proves it)`);
    assert.ok(channel && channel.charged >= BigInt(completion.verity.charge));
    const transcripts = await client.transcripts();
    assert.equal(transcripts.length, 1, `${mode}: the answer is kept for the audit window`);
    for (const t of transcripts) assert.deepEqual([t.promptTokenIds, t.outputTokenIds, t.sampling], [null, null, null]);
    assert.deepEqual(samples, [], `${mode}: nothing a validator could not re-score is sampled`);
    assert.deepEqual(await client.audits.entries(), []);
    assert.deepEqual(
      flags.map((f) => f.code),
      ["transcript_invalid"],
      `${mode}: a provider whose answers cannot be audited is flagged`,
    );
    assert.equal((await client.flagged())[0]?.code, "transcript_invalid");
    await assert.rejects(
      client.completions.create({ model: "verity-tiny", prompt: "x", max_tokens: 4 }),
      (e: { code?: string }) => e.code === "no_healthy_offer",
      `${mode}: the flagged provider is no longer routed to`,
    );
  }
  const samples: AuditSample[] = [];
  const honest = await clientFor("honest", undefined, undefined, (sample) => samples.push(sample));
  await honest.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 6 });
  assert.equal(samples.length, 1, "through an honest relay the same answer is sampled (p = 1)");
  assert.ok(samples[0]?.outputTokenIds && samples[0].sampling);
});
