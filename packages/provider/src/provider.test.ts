import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { channelViewOf } from "@verity/chain/testing";
import { hashParams, hashTokens, receiptDomain, receiptFromJson, receiptTypes } from "@verity/core";
import OpenAI from "openai";
import { recoverTypedDataAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { createVoucherFetch } from "../../sdk/src/voucher-fetch.ts";
import type { PaidTranscript } from "./paid-inference.ts";
import { openTestChannel, startTestProvider, type TestProvider } from "./testing.ts";

let p: TestProvider;
let channelId: `0x${string}`;
let payer: ReturnType<typeof createVoucherFetch>;
let client: OpenAI;
const receipts: { receipt: unknown; charged: bigint }[] = [];

before(async () => {
  p = await startTestProvider();
  const model = p.info.models[0];
  assert.ok(model);
  channelId = await openTestChannel({
    t: p.t,
    deployment: p.deployment,
    payer: "client-1",
    agentId: p.info.agentId,
    modelId: model.modelId,
    amount: 100_000_000n,
  });
  payer = createVoucherFetch({
    channelId,
    authorizer: privateKeyToAccount(p.t.account("client-1").privateKey),
    chainId: p.deployment.chainId,
    paymentChannels: p.deployment.contracts.PaymentChannels.address,
    headroom: 5_000n,
    onReceipt: (r) => receipts.push(r),
  });
  client = new OpenAI({ baseURL: `${p.url}/v1`, apiKey: "not-used", fetch: payer.fetch, maxRetries: 0 });
});
after(async () => {
  await p.close();
});

test("the official openai client gets a paid, receipted chat completion", async () => {
  const completion = await client.chat.completions.create({
    model: "verity-tiny",
    messages: [{ role: "user", content: "Say something about verifiable inference." }],
    max_tokens: 24,
    temperature: 0,
    seed: 7,
  });
  const choice = completion.choices[0];
  assert.ok(choice && choice.message.content !== null);
  assert.ok(["stop", "length"].includes(choice.finish_reason));
  const usage = completion.usage;
  assert.ok(usage && usage.completion_tokens > 0 && usage.completion_tokens <= 24);
  // price: 1 TUSD / 1M input tokens, 2 TUSD / 1M output tokens (6 decimals) → base units
  const expected = BigInt(
    Math.ceil((usage.prompt_tokens * 1_000_000 + usage.completion_tokens * 2_000_000) / 1_000_000),
  );
  assert.equal(payer.charged, expected);
  const last = receipts.at(-1);
  assert.ok(last);
  const signed = last.receipt as {
    receipt: Parameters<typeof receiptFromJson>[0];
    signature: `0x${string}`;
    signer: string;
  };
  const receipt = receiptFromJson(signed.receipt);
  assert.equal(receipt.charge, expected);
  assert.equal(receipt.channelId, channelId);
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
});

test("streaming with include_usage ends with usage and the charge, and the answer matches the non-streamed one", async () => {
  const before = payer.charged;
  const request = {
    model: "verity-tiny",
    messages: [{ role: "user" as const, content: "Stream a short line." }],
    max_tokens: 16,
    temperature: 0,
    seed: 3,
  };
  const stream = await client.chat.completions.create({
    ...request,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "";
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  assert.ok(usage && usage.completion_tokens > 0);
  assert.ok(payer.charged > before);
  const whole = await client.chat.completions.create(request);
  assert.equal(whole.choices[0]?.message.content, text);
});

test("completions endpoint and models list work with the openai client", async () => {
  const models = await client.models.list();
  assert.deepEqual(
    models.data.map((m) => m.id),
    ["verity-tiny"],
  );
  const completion = await client.completions.create({
    model: "verity-tiny",
    prompt: "Once upon a time",
    max_tokens: 8,
    temperature: 0,
  });
  assert.equal(typeof completion.choices[0]?.text, "string");
});

test("every paid response carries its transcript, and the transcript hashes to the receipt", async () => {
  type Verity = {
    receipt: { promptHash: string; outputHash: string; paramsHash: string; completionTokens: number };
    transcript: PaidTranscript;
  };
  const check = (verity: Verity | undefined, sampling: Partial<PaidTranscript["sampling"]>) => {
    assert.ok(verity?.transcript);
    const { transcript, receipt } = verity;
    assert.ok(transcript.promptTokenIds.length > 0);
    assert.equal(hashTokens(transcript.promptTokenIds), receipt.promptHash);
    assert.equal(hashTokens(transcript.outputTokenIds), receipt.outputHash);
    assert.equal(transcript.outputTokenIds.length, receipt.completionTokens);
    assert.equal(hashParams(transcript.sampling), receipt.paramsHash);
    assert.deepEqual(Object.keys(transcript.sampling), ["temperature", "topP", "seed", "maxTokens", "stop"]);
    for (const [key, value] of Object.entries(sampling))
      assert.deepEqual(transcript.sampling[key as keyof typeof sampling], value);
    return transcript;
  };
  const messages = [{ role: "user" as const, content: "Transcripts, please." }];
  const chat = await client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 6, seed: 11 });
  check((chat as unknown as { verity: Verity }).verity, { temperature: 1, topP: 1, seed: 11, maxTokens: 6, stop: [] });
  // Without a seed the provider picks one; the transcript states it.
  const text = await client.completions.create({
    model: "verity-tiny",
    prompt: "Once",
    max_tokens: 5,
    temperature: 0.5,
    top_p: 0.9,
    stop: ["\n"],
  });
  const picked = check((text as unknown as { verity: Verity }).verity, {
    temperature: 0.5,
    topP: 0.9,
    maxTokens: 5,
    stop: ["\n"],
  });
  assert.ok(Number.isInteger(picked.sampling.seed));
  for (const kind of ["chat", "text"] as const) {
    const stream =
      kind === "chat"
        ? await client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 4, stream: true })
        : await client.completions.create({ model: "verity-tiny", prompt: "Once", max_tokens: 4, stream: true });
    let last: Verity | undefined;
    for await (const chunk of stream) last = (chunk as unknown as { verity?: Verity }).verity ?? last;
    check(last, { maxTokens: 4 });
  }
});

test("claims settle exactly the charged total on-chain, split three ways", async () => {
  const report = await p.provider.claimer?.claimNow(true);
  assert.ok(report);
  assert.equal(report.channels, 1);
  const channel = await channelViewOf({
    publicClient: p.t.publicClient,
    paymentChannels: p.deployment.contracts.PaymentChannels.address,
    channelId: channelId,
  });
  assert.equal(BigInt(channel.claimed), payer.charged);
  assert.equal(await p.provider.claimer?.claimNow(true), undefined, "nothing left to claim");
});
