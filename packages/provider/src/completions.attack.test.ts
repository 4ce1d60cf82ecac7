/**
 * Attacks on the paid completion routes by their caller: a client that walks away from a stream
 * once it has the answer it wanted, and one that floods the unpaid tokenizer routes.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { channelViewOf } from "@verity/chain/testing";
import { ceilingFor, chargeFor, HEADERS, hashTokens, receiptDomain, receiptFromJson, receiptTypes } from "@verity/core";
import OpenAI from "openai";
import { recoverTypedDataAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { estimateChatPromptTokens } from "../../sdk/src/ceiling.ts";
import { createVerityClient, type VerityClient } from "../../sdk/src/verity-client.ts";
import { createVoucherFetch } from "../../sdk/src/voucher-fetch.ts";
import { mintTestUSD, openTestChannel, startTestProvider, type TestProvider } from "./testing.ts";

let p: TestProvider;
let client: VerityClient;
const sent: { url: string; voucher: string; body: string }[] = [];
const price = { inputPerMTok: 1_000_000n, outputPerMTok: 2_000_000n };
const messages = [{ role: "user" as const, content: "Tell me a long story about payment channels." }];

before(async () => {
  p = await startTestProvider();
  await mintTestUSD(p.t, p.deployment, "client-3", 100_000_000n);
  client = createVerityClient({
    provider: p.t.edr.provider,
    deployment: p.deployment,
    account: privateKeyToAccount(p.t.account("client-3").privateKey),
    stateDir: mkdtempSync(join(tmpdir(), "verity-abort-client-")),
    indexerPollMs: 50,
    audit: { p: 0 },
    // Records every paid request as it left the client, voucher and all.
    fetch: async (input, init) => {
      const headers = (init?.headers ?? {}) as Record<string, string>;
      const voucher = headers[HEADERS.voucher];
      if (voucher) sent.push({ url: String(input), voucher, body: String(init?.body) });
      return fetch(input, init);
    },
  });
  await client.start();
});

after(async () => {
  await client.stop();
  await p.close();
});

type StoredRequest = {
  request_id: string;
  completion_tokens: number;
  charge: string;
  receipt: string;
  signature: string;
};

async function waitForRequests(count: number): Promise<StoredRequest[]> {
  const db = p.provider.store?.db;
  assert.ok(db);
  for (let i = 0; i < 200; i++) {
    const rows = db.prepare("SELECT * FROM requests ORDER BY created_at").all() as StoredRequest[];
    if (rows.length >= count) return rows;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.fail(`the provider never persisted ${count} requests`);
}

/** POSTs `body` on a connection of its own (the server closes it after refusing an oversized body). */
function post(
  url: string,
  body: string,
): Promise<{ status: number; json: { error?: { code?: string }; tokens?: number[] } }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { method: "POST", agent: false, headers: { "content-type": "application/json" } },
      (response) => {
        let text = "";
        response.on("data", (d) => {
          text += String(d);
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, json: JSON.parse(text) }));
        response.on("error", reject);
      },
    );
    request.on("error", (error: NodeJS.ErrnoException) => {
      // Refused early, the server may close the socket before the body is sent; its answer still arrives.
      if (error.code !== "EPIPE" && error.code !== "ECONNRESET") reject(error);
    });
    request.end(body);
  });
}

test("attack: send an oversized body to the unpaid /tokenize and /detokenize routes", async () => {
  const huge = JSON.stringify({ content: "x".repeat(1024 * 1024 + 1), tokens: [] });
  for (const path of ["/tokenize", "/detokenize"]) {
    const { status, json } = await post(`${p.url}${path}`, huge);
    assert.equal(status, 413, path);
    assert.equal(json.error?.code, "payload_too_large", path);
  }
  const small = await post(`${p.url}/tokenize`, JSON.stringify({ content: "hello" }));
  assert.equal(small.status, 200, "a normal body is still served");
  assert.ok((small.json.tokens ?? []).length > 0);
});

test("attack: abort a streamed completion after a few chunks to keep the answer and replay the voucher", async () => {
  const model = p.info.models[0];
  assert.ok(model);
  const opened = await client.openChannel({ agentId: p.info.agentId, modelId: model.modelId, amount: 1_000_000n });
  const channelId = opened.channelId;
  const providerBalance = async () =>
    channelViewOf({
      publicClient: p.t.publicClient,
      paymentChannels: p.deployment.contracts.PaymentChannels.address,
      channelId: channelId,
    });

  // The attacker streams, reads three pieces of the answer and hangs up.
  const stream = await client.chat.completions.create(
    { model: "verity-tiny", messages, max_tokens: 200, temperature: 0, seed: 3, stream: true },
    { agentId: p.info.agentId },
  );
  let received = "";
  let pieces = 0;
  await assert.rejects(async () => {
    for await (const chunk of stream) {
      const text = chunk.choices[0]?.delta?.content ?? "";
      if (text.length === 0) continue;
      received += text;
      if (++pieces === 3) stream.controller.abort();
    }
  });
  assert.equal(pieces, 3, "the answer was still streaming when the client hung up");
  const aborted = sent.at(-1);
  assert.ok(aborted);
  const ceiling = ceilingFor({ price, promptTokens: estimateChatPromptTokens(messages), maxTokens: 200 });
  const afterAbort = (await client.channels()).find((c) => c.channelId === channelId);
  assert.ok(afterAbort && afterAbort.pending > 0n, "the client counts the aborted voucher as spent");

  // (b) The provider charged exactly the delivered tokens under that voucher, receipted and persisted.
  const [row] = await waitForRequests(1);
  assert.ok(row);
  const signed = { receipt: JSON.parse(row.receipt), signature: row.signature as `0x${string}` };
  const receipt = receiptFromJson(signed.receipt);
  const signer = await recoverTypedDataAddress({
    domain: receiptDomain({
      chainId: p.deployment.chainId,
      verifyingContract: p.deployment.contracts.PaymentChannels.address,
    }),
    types: receiptTypes,
    primaryType: "Receipt",
    message: receipt,
    signature: signed.signature,
  });
  assert.equal(signer, p.info.address);
  assert.equal(receipt.channelId, channelId);
  const engine = p.engines[0];
  assert.ok(engine);
  const promptTokens = engine.renderChat(messages).length;
  assert.equal(receipt.promptTokens, promptTokens);
  assert.ok(receipt.completionTokens >= pieces, "at least the pieces the client read were delivered");
  assert.ok(receipt.completionTokens < 200, "not charged for tokens never delivered");
  // Greedy decoding is deterministic: the receipt commits to exactly the first n tokens of the answer.
  const replayed = await engine.generate({
    prompt: { messages },
    sampling: { temperature: 0, topP: 1, seed: 3, maxTokens: receipt.completionTokens },
  });
  assert.equal(receipt.outputHash, hashTokens(replayed.outputTokens));
  assert.ok(replayed.text.startsWith(received), "what the client received is what the receipt charges");
  const due = chargeFor({ price, promptTokens, completionTokens: receipt.completionTokens });
  const voucher = JSON.parse(Buffer.from(aborted.voucher, "base64").toString("utf8")) as { cumulativeAmount: string };
  assert.equal(receipt.charge, due);
  assert.equal(receipt.cumulativeCharged, due);
  assert.ok(due <= ceiling, "the charge stays within the request's ceiling");
  assert.ok(due <= BigInt(voucher.cumulativeAmount), "and within the voucher it was paid with");
  assert.equal(BigInt(row.charge), due);
  assert.equal(p.provider.store?.channel(channelId).charged, due);
  assert.equal(p.provider.store?.channel(channelId).voucherAmount, BigInt(voucher.cumulativeAmount));

  // (a) The voucher paid once: replaying it is refused and charges nothing.
  const replay = await fetch(aborted.url, {
    method: "POST",
    headers: { "content-type": "application/json", [HEADERS.voucher]: aborted.voucher },
    body: aborted.body,
  });
  assert.equal(replay.status, 409);
  const refusal = (await replay.json()) as { error: { code: string; details: { charged: string } } };
  assert.equal(refusal.error.code, "voucher_replayed");
  assert.equal(refusal.error.details.charged, due.toString(), "the refusal states what is owed");
  assert.equal((await waitForRequests(1)).length, 1);
  assert.equal(p.provider.store?.channel(channelId).charged, due);

  // (c) A claim on the chain pays exactly that.
  const before = await providerBalance();
  const report = await p.provider.claimer?.claimNow(true);
  assert.ok(report);
  const settled = await providerBalance();
  assert.equal(settled.claimed - before.claimed, due);

  // (d) The client's next request on that channel works and its state learns the charged total.
  const next = await client.chat.completions.create(
    { model: "verity-tiny", messages: [{ role: "user", content: "And a short one." }], max_tokens: 8 },
    { agentId: p.info.agentId },
  );
  assert.equal(next.verity.channelId, channelId);
  assert.equal(BigInt(next.verity.charged), due + BigInt(next.verity.charge));
  const state = (await client.channels()).find((c) => c.channelId === channelId);
  assert.equal(state?.charged, due + BigInt(next.verity.charge));
  assert.deepEqual(await client.flagged(), [], "the honest provider is not flagged");
});

test("attack: abort a stream paid through voucher-fetch and have the official openai client reuse the voucher", async () => {
  const model = p.info.models[0];
  assert.ok(model);
  const channelId = await openTestChannel({
    t: p.t,
    deployment: p.deployment,
    payer: "client-6",
    agentId: p.info.agentId,
    modelId: model.modelId,
    amount: 1_000_000n,
  });
  const payer = createVoucherFetch({
    channelId,
    authorizer: privateKeyToAccount(p.t.account("client-6").privateKey),
    chainId: p.deployment.chainId,
    paymentChannels: p.deployment.contracts.PaymentChannels.address,
    headroom: 560n, // just above these requests' ceiling
  });
  const openai = new OpenAI({ baseURL: `${p.url}/v1`, apiKey: "x", fetch: payer.fetch, maxRetries: 0 });
  const before = (await waitForRequests(0)).length;
  const request = {
    model: "verity-tiny",
    messages: [{ role: "user" as const, content: "a long story" }],
    max_tokens: 250,
    temperature: 0,
    seed: 9,
  };
  const controller = new AbortController();
  const stream = await openai.chat.completions.create({ ...request, stream: true }, { signal: controller.signal });
  let pieces = 0;
  try {
    for await (const chunk of stream) if (chunk.choices[0]?.delta?.content && ++pieces === 40) controller.abort();
  } catch {
    // the openai client may end or throw on its own abort
  }
  assert.equal(pieces, 40, "the answer was still streaming when the client hung up");
  const rows = await waitForRequests(before + 1);
  const abortCharge = BigInt(rows.at(-1)?.charge ?? "0");
  assert.equal(p.provider.store?.channel(channelId).charged, abortCharge);
  // One above the aborted voucher leaves less headroom than the ceiling: the provider's 402 states
  // what it is owed, voucher-fetch learns it and pays the request on top of it.
  const next = await openai.chat.completions.create(request);
  const verity = (next as unknown as { verity: { charge: string; charged: string } }).verity;
  assert.equal(BigInt(verity.charged), abortCharge + BigInt(verity.charge));
  assert.equal(payer.charged, abortCharge + BigInt(verity.charge));
  assert.equal(p.provider.store?.channel(channelId).charged, payer.charged, "client and provider agree");
});
