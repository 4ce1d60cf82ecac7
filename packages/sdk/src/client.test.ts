import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Listening, listen } from "@verity/chain";
import { channelViewOf } from "@verity/chain/testing";
import { testUSDAbi } from "@verity/contracts";
import { auditCommitOf, chargeFor, deriveSeedKey, hashParams, hashTokens } from "@verity/core";
import { Hono } from "hono";
import { privateKeyToAccount } from "viem/accounts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import { preflightSample } from "../../validator/src/sample-checks.ts";
import type { AuditSample } from "./audit-queue.ts";
import { estimateChatPromptTokens, requestCeiling } from "./ceiling.ts";
import type { ChatCompletionChunk } from "./openai-types.ts";
import { createVerityClient, type VerityClient } from "./verity-client.ts";

let p: TestProvider;
let cheap: TestProvider;
let validator: Listening;
let client: VerityClient;
let channelId: `0x${string}`;
const stateDir = mkdtempSync(join(tmpdir(), "verity-sdk-client-"));
const posted: AuditSample[] = [];
const sampled: AuditSample[] = [];
const price = { inputPerMTok: 1_000_000n, outputPerMTok: 2_000_000n };
const messages = [{ role: "user" as const, content: "Say something about verifiable inference." }];

function newClient(options: { validatorUrl?: string; orphanGraceMs?: number } = {}) {
  return createVerityClient({
    provider: p.t.edr.provider,
    deployment: p.deployment,
    account: privateKeyToAccount(p.t.account("client-2").privateKey),
    stateDir,
    indexerPollMs: 50,
    autoOpen: { amount: 5_000_000n },
    audit: {
      p: 1,
      onSample: (s) => sampled.push(s),
      ...(options.validatorUrl ? { validatorUrl: options.validatorUrl } : {}),
    },
    ...(options.orphanGraceMs === undefined ? {} : { orphanGraceMs: options.orphanGraceMs }),
  });
}

async function channel() {
  const found = (await client.channels()).find((c) => c.channelId === channelId);
  assert.ok(found);
  return found;
}

before(async () => {
  p = await startTestProvider();
  cheap = await startTestProvider({
    t: p.t,
    deployment: p.deployment,
    account: "provider-2",
    inputPricePerMTok: 500_000n,
    outputPricePerMTok: 1_000_000n,
  });
  await mintTestUSD(p.t, p.deployment, "client-2", 100_000_000n);
  const app = new Hono();
  app.post("/audits", async (c) => {
    posted.push((await c.req.json()) as AuditSample);
    return c.json({ ok: true });
  });
  validator = await listen({ fetch: app.fetch });
  client = newClient({ validatorUrl: `${validator.url}/audits` });
  await client.start();
});

after(async () => {
  await client.stop();
  await validator.close();
  await cheap.close();
  await p.close();
});

test("offers come from the client's own indexer, cheapest first, filtered by model and price", async () => {
  const offers = await client.offers({ model: "verity-tiny" });
  assert.deepEqual(
    offers.map((o) => [o.agentId, o.inputPricePerMTok, o.outputPricePerMTok, o.healthy, o.url]),
    [
      [cheap.info.agentId, 500_000n, 1_000_000n, true, cheap.url],
      [p.info.agentId, 1_000_000n, 2_000_000n, true, p.url],
    ],
  );
  assert.deepEqual(await client.offers({ model: "no-such-model" }), []);
  const under = await client.offers({ maxPrice: { outputPerMTok: 1_500_000n } });
  assert.deepEqual(
    under.map((o) => o.agentId),
    [cheap.info.agentId],
  );
});

test("openChannel is one openWithPermit transaction: no approval, the authorizer is the client's hot key", async () => {
  const payer = client.address;
  const nonce = await p.t.publicClient.getTransactionCount({ address: payer });
  const opened = await client.openChannel({
    agentId: p.info.agentId,
    modelId: p.info.models[0]?.modelId ?? 0n,
    amount: 10_000_000n,
  });
  channelId = opened.channelId;
  assert.equal(await p.t.publicClient.getTransactionCount({ address: payer }), nonce + 1);
  const tx = await p.t.publicClient.getTransaction({ hash: opened.txHash });
  assert.equal(tx.to?.toLowerCase(), p.deployment.contracts.PaymentChannels.address.toLowerCase());
  const allowance = await p.t.publicClient.readContract({
    address: p.deployment.token.address,
    abi: testUSDAbi,
    functionName: "allowance",
    args: [payer, p.deployment.contracts.PaymentChannels.address],
  });
  assert.equal(allowance, 0n, "the permit covered exactly the deposit");
  const view = await channelViewOf({
    publicClient: p.t.publicClient,
    paymentChannels: p.deployment.contracts.PaymentChannels.address,
    channelId: channelId,
  });
  assert.equal(view.deposit, 10_000_000n);
  assert.equal(view.payerAuthorizer.toLowerCase(), client.authorizer.toLowerCase());
  assert.notEqual(client.authorizer.toLowerCase(), payer.toLowerCase());
  const stored = await channel();
  assert.equal(stored.state, "open");
  assert.equal(stored.headroom, 10_000_000n);
});

test("a paid chat completion: the receipt verifies, the charge is usage × price, the transcript is kept", async () => {
  const completion = await client.chat.completions.create(
    { model: "verity-tiny", messages, max_tokens: 24, temperature: 0, seed: 7 },
    { agentId: p.info.agentId },
  );
  assert.equal(completion.object, "chat.completion");
  const usage = completion.usage;
  assert.ok(usage.completion_tokens > 0 && usage.completion_tokens <= 24);
  const charge = chargeFor({ price, promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens });
  assert.equal(completion.verity.charge, charge.toString());
  assert.equal(completion.verity.charged, charge.toString());
  assert.equal(completion.verity.channelId, channelId);
  assert.equal(completion.verity.signer.toLowerCase(), p.info.address.toLowerCase());
  const stored = await channel();
  assert.equal(stored.charged, charge);
  const ceiling = requestCeiling({ price, promptTokens: estimateChatPromptTokens(messages), maxTokens: 24 });
  assert.equal(stored.highestSigned, ceiling, "the voucher was charged (0) + ceiling");
  assert.equal(stored.pending, 0n);
  const [transcript] = await client.transcripts();
  assert.ok(transcript);
  assert.equal(transcript.requestId, completion.verity.requestId);
  assert.equal(transcript.output, completion.choices[0]?.message.content);
  assert.deepEqual((transcript.request as { messages: unknown }).messages, messages);
});

test("a caller's ready gate: a refusal sends nothing and releases the reservation; the voucher waits for it", async () => {
  const before = await channel();
  const refusal = new Error("hold refused");
  await assert.rejects(
    client.chat.completions.create(
      { model: "verity-tiny", messages, max_tokens: 24 },
      { agentId: p.info.agentId, ready: Promise.reject(refusal) },
    ),
    (error) => error === refusal,
  );
  const refused = await channel();
  assert.equal(refused.pending, before.pending, "the reservation was released");
  assert.equal(refused.charged, before.charged, "the provider charged nothing");
  const served = () => p.provider.store?.channel(channelId).charged;
  const providerBefore = served();
  let open: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    open = resolve;
  });
  const pending = client.chat.completions.create(
    { model: "verity-tiny", messages, max_tokens: 24 },
    { agentId: p.info.agentId, ready },
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(served(), providerBefore, "nothing reached the provider before the gate opened");
  open();
  const completion = await pending;
  assert.equal((await channel()).charged, before.charged + BigInt(completion.verity.charge));
});

test("a stream yields content chunks, then the usage chunk with the verified payment", async () => {
  const before = (await channel()).charged;
  const request = { model: "verity-tiny", messages, max_tokens: 16, temperature: 0, seed: 3 };
  const stream = await client.chat.completions.create({ ...request, stream: true }, { agentId: p.info.agentId });
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  const last = chunks.at(-1);
  assert.ok(last?.usage && last.verity);
  assert.deepEqual(last.choices, []);
  const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
  const charge = chargeFor({
    price,
    promptTokens: last.usage.prompt_tokens,
    completionTokens: last.usage.completion_tokens,
  });
  assert.equal(last.verity.charge, charge.toString());
  assert.equal((await channel()).charged, before + charge);
  const whole = await client.chat.completions.create(request, { agentId: p.info.agentId });
  assert.equal(whole.choices[0]?.message.content, text);
});

test("text completions are paid the same way", async () => {
  const before = (await channel()).charged;
  const completion = await client.completions.create(
    { model: "verity-tiny", prompt: "Once upon a time", max_tokens: 8, temperature: 0 },
    { agentId: p.info.agentId },
  );
  assert.equal(typeof completion.choices[0]?.text, "string");
  assert.equal((await channel()).charged, before + BigInt(completion.verity.charge));
});

test("concurrent requests on one channel each get their own headroom and every receipt verifies", async () => {
  const before = await channel();
  const results = await Promise.all(
    [1, 2, 3].map((i) =>
      client.chat.completions.create(
        { model: "verity-tiny", messages: [{ role: "user", content: `concurrent ${i}` }], max_tokens: 12 },
        { agentId: p.info.agentId },
      ),
    ),
  );
  const total = results.reduce((sum, r) => sum + BigInt(r.verity.charge), 0n);
  const after = await channel();
  assert.equal(after.charged, before.charged + total);
  assert.equal(after.pending, 0n);
  assert.deepEqual(await client.flagged(), []);
  const amounts = new Set(results.map((r) => r.verity.charged));
  assert.equal(amounts.size, 3, "each receipt carries its own cumulative total");
});

test("without agentId the cheapest healthy offer is used, opening a channel automatically", async () => {
  const completion = await client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 8 });
  assert.equal(completion.verity.agentId, cheap.info.agentId.toString());
  const auto = (await client.channels()).find((c) => c.agentId === cheap.info.agentId);
  assert.equal(auto?.deposit, 5_000_000n);
  assert.equal(auto?.charged, BigInt(completion.verity.charge));
});

test("with p = 1 every verified response is sampled and posted to the validator", async () => {
  await client.audits.flush();
  const transcripts = await client.transcripts();
  assert.equal(sampled.length, transcripts.length);
  assert.equal(posted.length, transcripts.length);
  assert.equal((await client.audits.entries("sent")).length, transcripts.length);
  const sample = posted[0];
  assert.equal(sample?.chainId, p.deployment.chainId);
  assert.ok(sample && transcripts.some((t) => t.receipt.signature === sample.receipt.signature));
});

test("each posted sample carries what a validator re-scores: ids and sampling matching the receipt", async () => {
  assert.ok(posted.length > 0);
  for (const sample of posted) {
    const receipt = sample.receipt.receipt;
    assert.ok(sample.promptTokenIds && sample.promptTokenIds.length > 0, "the validator needs the prompt's ids");
    assert.ok(sample.outputTokenIds && sample.sampling);
    assert.equal(hashTokens(sample.promptTokenIds), receipt.promptHash);
    assert.equal(hashTokens(sample.outputTokenIds), receipt.outputHash);
    assert.equal(sample.outputTokenIds.length, receipt.completionTokens);
    assert.equal(hashParams(sample.sampling), receipt.paramsHash);
    const { temperature, topP, seed, maxTokens, stop } = sample.sampling;
    assert.ok(temperature >= 0 && temperature <= 2 && topP > 0 && topP <= 1 && maxTokens >= 1);
    assert.ok(Number.isInteger(seed) && seed >= 0 && seed <= 0xfffffffe);
    assert.ok(stop.every((s) => s.length > 0));
  }
  const seeded = posted.find((s) => s.request.seed === 7 && s.request.max_tokens === 24);
  const { seedKey, auditCommit, ...rest } = seeded?.sampling ?? {};
  assert.deepEqual(rest, { temperature: 0, topP: 1, seed: 7, maxTokens: 24, stop: [] });
  // Seed-synced: the receipt's params carry the seed key derived from the voucher, and the audit
  // commitment; the sample reveals the channel's secret, and the validator's intake checks accept it.
  for (const sample of posted) {
    const reveal = sample.reveal;
    assert.ok(reveal && sample.sampling?.seedKey && sample.sampling.auditCommit);
    assert.equal(auditCommitOf(reveal.auditSecret), sample.sampling.auditCommit);
    const derived = deriveSeedKey({
      chainId: p.deployment.chainId,
      channelId: sample.channelId,
      voucherAmount: BigInt(reveal.voucherAmount),
      auditSecret: reveal.auditSecret,
    });
    assert.equal(derived, sample.sampling.seedKey);
    assert.deepEqual(reveal.policy, { pBase: 1 });
    preflightSample({ body: sample, deployment: p.deployment });
  }
  assert.ok(seedKey && auditCommit);
  assert.equal(new Set(posted.map((s) => s.sampling?.seedKey)).size, posted.length, "one seed key per request");
  // Every answer is selected (p = 1), so each moves its channel to a fresh secret before it is
  // revealed: only requests already in flight together (the three concurrent ones) share a secret.
  const secrets = new Set(posted.map((s) => s.reveal?.auditSecret));
  assert.ok(secrets.size >= posted.length - 2, `${secrets.size} secrets for ${posted.length} samples`);
  assert.ok(
    posted.some((s) => s.request.stream === true),
    "streamed answers are sampled with their transcript too",
  );
  const [stored] = await client.transcripts({ limit: 1 });
  assert.deepEqual(stored?.sampling, posted.find((s) => s.receipt.signature === stored?.receipt.signature)?.sampling);
});

test("a restarted client resumes from the stored charged total and highest voucher", async () => {
  const abandoned = await client.chat.completions.create(
    { model: "verity-tiny", messages, max_tokens: 64, stream: true },
    { agentId: p.info.agentId },
  );
  for await (const _ of abandoned) break; // the caller walks away mid-stream
  assert.ok((await channel()).pending > 0n, "the abandoned request stays counted until a receipt settles it");
  await new Promise((resolve) => setTimeout(resolve, 300));
  const authorizer = client.authorizer;
  const stored = await channel();
  await client.stop();

  client = newClient({ orphanGraceMs: 0 });
  assert.equal(client.authorizer, authorizer, "the hot key is kept in the state dir");
  const resumed = await channel();
  assert.equal(resumed.charged, stored.charged);
  assert.equal(resumed.highestSigned, stored.highestSigned);
  assert.equal(resumed.pending, stored.pending);
  const completion = await client.chat.completions.create(
    { model: "verity-tiny", messages, max_tokens: 24 },
    { agentId: p.info.agentId },
  );
  const ceiling = requestCeiling({ price, promptTokens: estimateChatPromptTokens(messages), maxTokens: 24 });
  const after = await channel();
  assert.equal(after.highestSigned, stored.charged + stored.pending + ceiling, "charged + orphan + ceiling");
  assert.equal(after.pending, 0n, "the receipt's total absorbed the abandoned request");
  assert.equal(after.charged, BigInt(completion.verity.charged));
  const charge = BigInt(completion.verity.charge);
  assert.ok(after.charged >= stored.charged + charge && after.charged <= stored.charged + stored.pending + charge);
  const pending = await client.audits.entries("pending");
  assert.equal(pending.at(-1)?.transcript.requestId, completion.verity.requestId, "no validator: queued as pending");
});

test("closeChannel returns the unspent escrow after the withdraw delay", async () => {
  await p.provider.claimer?.claimNow(true);
  const stored = await channel();
  const token = p.deployment.token.address;
  const balance = () =>
    p.t.publicClient.readContract({
      address: token,
      abi: testUSDAbi,
      functionName: "balanceOf",
      args: [client.address],
    });
  const before = await balance();
  const { withdrawableAt } = await client.closeChannel({ channelId });
  assert.equal((await channel()).withdrawableAt, withdrawableAt);
  await assert.rejects(client.finalizeWithdraw({ channelId }), { code: "withdraw_not_ready" });
  await p.t.increaseTime(stored.withdrawDelay);
  const { refund } = await client.finalizeWithdraw({ channelId });
  assert.equal(refund, stored.deposit - stored.charged, "everything not charged comes back");
  assert.equal(await balance(), before + refund);
  const closed = await channel();
  assert.equal(closed.state, "closed");
  assert.equal(closed.refund, refund);
});

test("closeAndWithdraw waits for chain time to pass the delay, then finalizes", async () => {
  const auto = (await client.channels()).find((c) => c.agentId === cheap.info.agentId && c.state === "open");
  assert.ok(auto);
  const done = client.closeAndWithdraw({ channelId: auto.channelId, pollMs: 20 });
  while ((await client.channels()).find((c) => c.channelId === auto.channelId)?.withdrawableAt == null) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await p.t.increaseTime(auto.withdrawDelay);
  const { refund } = await done;
  const view = await channelViewOf({
    publicClient: p.t.publicClient,
    paymentChannels: p.deployment.contracts.PaymentChannels.address,
    channelId: auto.channelId,
  });
  assert.equal(view.closed, true);
  assert.equal(refund, view.deposit - view.claimed);
});

test("with publicEndpointsOnly the loopback providers are unhealthy and a request is refused before any channel or voucher", async () => {
  const guarded = createVerityClient({
    provider: p.t.edr.provider,
    deployment: p.deployment,
    account: privateKeyToAccount(p.t.account("client-3").privateKey),
    stateDir: mkdtempSync(join(tmpdir(), "verity-sdk-guarded-")),
    indexerPollMs: 50,
    autoOpen: { amount: 5_000_000n },
    publicEndpointsOnly: true,
  });
  try {
    const offers = await guarded.offers({ model: "verity-tiny" });
    assert.ok(offers.length >= 2);
    assert.ok(offers.every((o) => !o.healthy));
    await assert.rejects(guarded.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 4 }), {
      code: "no_healthy_offer",
    });
    assert.deepEqual(await guarded.channels(), [], "no channel was opened");
    assert.ok(
      (await client.offers({ model: "verity-tiny" })).some((o) => o.healthy),
      "the default client allows loopback",
    );
  } finally {
    await guarded.stop();
  }
});

test("samples a validator refused with 503 are retried while the client runs, with no flush or restart", async () => {
  let down = true;
  const received: string[] = [];
  const app = new Hono();
  app.post("/audits", async (c) => {
    if (down) return c.json({ error: { code: "validator_busy" } }, 503);
    received.push(((await c.req.json()) as AuditSample).receipt.receipt.requestId);
    return c.json({ ok: true }, 202);
  });
  const flaky = await listen({ fetch: app.fetch });
  await mintTestUSD(p.t, p.deployment, "client-4", 100_000_000n);
  const retrying = createVerityClient({
    provider: p.t.edr.provider,
    deployment: p.deployment,
    account: privateKeyToAccount(p.t.account("client-4").privateKey),
    stateDir: mkdtempSync(join(tmpdir(), "verity-sdk-retry-")),
    indexerPollMs: 50,
    autoOpen: { amount: 5_000_000n },
    audit: { p: 1, validatorUrl: `${flaky.url}/audits`, retryMs: 100 },
  });
  try {
    const completion = await retrying.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 4 });
    await retrying.audits.entries(); // the background post has had its turn once this resolves
    let pending = await retrying.audits.entries("pending");
    for (let i = 0; i < 100 && pending.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      pending = await retrying.audits.entries("pending");
    }
    assert.equal(pending[0]?.transcript.requestId, completion.verity.requestId, "refused with 503: still pending");
    down = false;
    let sent = await retrying.audits.entries("sent");
    for (let i = 0; i < 200 && sent.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      sent = await retrying.audits.entries("sent");
    }
    assert.equal(sent[0]?.transcript.requestId, completion.verity.requestId, "delivered by the retry");
    assert.deepEqual(received, [completion.verity.requestId]);
  } finally {
    await retrying.stop();
    await flaky.close();
  }
});
