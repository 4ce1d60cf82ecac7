import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { chargeFor, hashParams, hashTokens, receiptDomain, receiptFromJson, receiptTypes } from "@verity/core";
import { createTestEngine, type Engine } from "@verity/engine";
import { recoverTypedDataAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { createVoucherFetch } from "../../sdk/src/voucher-fetch.ts";
import type { PaidTranscript } from "./paid-inference.ts";
import { createProvider } from "./provider.ts";
import { createSubstitution, validateSubstituteRate } from "./substitute.ts";
import { openTestChannel, startTestProvider, type TestProvider } from "./testing.ts";

let p: TestProvider;
let payer: ReturnType<typeof createVoucherFetch>;
let honest: Engine;

before(async () => {
  p = await startTestProvider({ substitute: { model: "verity-tiny-sub", rate: 1 } });
  honest = p.engines[0] as Engine;
  const model = p.info.models[0];
  assert.ok(model);
  const channelId = await openTestChannel({
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
  });
});

after(async () => {
  await p.close();
});

test("the rate must be a number in [0, 1]", () => {
  for (const rate of [-0.1, 1.01, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => validateSubstituteRate(rate), { name: "ConfigError", code: "invalid_parameter" });
  }
  assert.equal(validateSubstituteRate(0), 0);
  assert.equal(validateSubstituteRate(1), 1);
});

test("a fraction `rate` of draws is substituted; 0 never, 1 always", () => {
  const draws = Array.from({ length: 10 }, (_, i) => i / 10);
  const picks = (rate: number) => {
    let i = 0;
    const s = createSubstitution({
      offered: honest,
      substitute: { engine: p.substitute as Engine, rate },
      random: () => draws[i++ % draws.length] ?? 0,
    });
    return draws.filter(() => s.pick()).length;
  };
  assert.equal(picks(0), 0);
  assert.equal(picks(0.3), 3);
  assert.equal(picks(1), 10);
});

test("a substitute with another tokenizer, or a bad rate, is refused before the provider starts", () => {
  const other = {
    ...(p.substitute as Engine),
    identity: { ...honest.identity, tokenizerHash: `0x${"11".repeat(32)}` },
  };
  assert.throws(() => createSubstitution({ offered: honest, substitute: { engine: other as Engine, rate: 0.5 } }), {
    code: "invalid_parameter",
  });
  const base = {
    deployment: p.deployment,
    provider: p.t.edr.provider,
    account: privateKeyToAccount(p.t.account("provider-3").privateKey),
    stake: 1n,
    dataDir: p.dataDir,
  };
  const model = { engine: honest, inputPricePerMTok: 1n, outputPricePerMTok: 1n, maxOutputTokens: 8 };
  assert.throws(() => createProvider({ ...base, models: [{ ...model, substitute: { engine: honest, rate: 2 } }] }), {
    code: "invalid_parameter",
  });
});

test("with rate 1 the substitute answers, yet receipts verify for the claimed model and price", async () => {
  const claimed = p.info.models[0];
  assert.ok(claimed && p.substitute);
  assert.equal(p.substitute.identity.tokenizerHash, honest.identity.tokenizerHash, "the test models share a tokenizer");
  const messages = [{ role: "user" as const, content: "Tell me about verifiable inference." }];
  const sampling = { temperature: 0, topP: 1, seed: 7, maxTokens: 12, stop: [] };
  const expectSubstitute = await p.substitute.generate({ prompt: { messages }, sampling });
  const expectHonest = await honest.generate({ prompt: { messages }, sampling });
  assert.notDeepEqual(expectSubstitute.outputTokens, expectHonest.outputTokens, "the two models answer differently");

  const request = { model: "verity-tiny", messages, max_tokens: 12, temperature: 0, seed: 7 };
  const plain = await payer.fetch(`${p.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(request),
  });
  assert.equal(plain.status, 200);
  const body = (await plain.json()) as {
    model: string;
    usage: { prompt_tokens: number; completion_tokens: number };
    verity: { receipt: Parameters<typeof receiptFromJson>[0]; signature: `0x${string}`; transcript: PaidTranscript };
  };
  assert.equal(body.model, "verity-tiny", "the response names the offered model");
  const { transcript } = body.verity;
  assert.deepEqual(transcript.outputTokenIds, expectSubstitute.outputTokens);
  assert.notDeepEqual(transcript.outputTokenIds, expectHonest.outputTokens);
  assert.deepEqual(transcript.promptTokenIds, expectHonest.promptTokens);

  const receipt = receiptFromJson(body.verity.receipt);
  const signer = await recoverTypedDataAddress({
    domain: receiptDomain({
      chainId: p.deployment.chainId,
      verifyingContract: p.deployment.contracts.PaymentChannels.address,
    }),
    types: receiptTypes,
    primaryType: "Receipt",
    message: receipt,
    signature: body.verity.signature,
  });
  assert.equal(signer, p.info.address);
  assert.equal(receipt.modelId, claimed.modelId);
  assert.equal(
    receipt.charge,
    chargeFor({
      price: { inputPerMTok: claimed.inputPricePerMTok, outputPerMTok: claimed.outputPricePerMTok },
      promptTokens: body.usage.prompt_tokens,
      completionTokens: body.usage.completion_tokens,
    }),
  );
  assert.equal(receipt.outputHash, hashTokens(expectSubstitute.outputTokens));
  assert.equal(receipt.paramsHash, hashParams(sampling));

  const streamed = await payer.fetch(`${p.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...request, stream: true }),
  });
  const last = (await streamed.text())
    .split("\n\n")
    .map((event) => event.replace(/^data: /, ""))
    .filter((data) => data.includes('"verity"'))
    .map((data) => JSON.parse(data) as { verity: { transcript: PaidTranscript } })
    .at(-1);
  assert.deepEqual(last?.verity.transcript.outputTokenIds, expectSubstitute.outputTokens);

  assert.equal(p.provider.substitutedCount(), 2);
  // Ground truth by receipt hashes: both answers (plain and streamed) were the substitute's.
  const answers = p.provider.substitutedAnswers();
  assert.equal(answers.length, 2);
  for (const a of answers) {
    assert.deepEqual(a, { promptHash: receipt.promptHash, outputHash: receipt.outputHash, model: "verity-tiny" });
  }
  assert.deepEqual(p.provider.substitutedAnswers("other"), []);
  assert.equal(p.provider.substitutedCount("verity-tiny"), 2);
  assert.equal(p.provider.substitutedCount("other"), 0);
  const metrics = await (await fetch(`${p.url}/metrics`)).text();
  assert.match(metrics, /^verity_provider_substituted_requests_total\{model="verity-tiny"\} 2$/m);
});

test("the 4-bit copy shares the tokenizer and is accepted as a substitute", async () => {
  const engine = await createTestEngine({ name: "verity-tiny-q4" });
  try {
    const s = createSubstitution({ offered: honest, substitute: { engine, rate: 0.5 } });
    assert.equal(s.engine.name, engine.name);
    assert.deepEqual(s.engine.identity, engine.identity);
    assert.equal(s.count, 0);
    assert.deepEqual(s.answers(), []);
    // Generations through the substitution are remembered by the hashes a receipt commits to.
    const result = await s.engine.generate({
      prompt: { text: "Once upon a time" },
      sampling: { temperature: 0, topP: 1, seed: 1, maxTokens: 6, stop: [] },
    });
    const answer = { promptHash: hashTokens(result.promptTokens), outputHash: hashTokens(result.outputTokens) };
    assert.deepEqual(s.answers(), [answer]);
    assert.ok(s.generated(answer));
    assert.ok(!s.generated({ ...answer, outputHash: hashTokens([...result.outputTokens, 1]) }));
  } finally {
    await engine.close();
  }
});
