import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { testUSDAbi } from "@verity/contracts";
import { x402Client } from "@x402/core/client";
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from "@x402/core/http";
import { toClientEvmSigner } from "@x402/evm";
import { BatchSettlementEvmScheme } from "@x402/evm/batch-settlement/client";
import { wrapFetchWithPayment } from "@x402/fetch";
import OpenAI from "openai";
import { type Address, keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { mintTestUSD, startTestProvider, type TestProvider } from "./testing.ts";

let p: TestProvider;
before(async () => {
  p = await startTestProvider();
  await mintTestUSD(p.t, p.deployment, "client-1", 50_000_000n);
});
after(async () => {
  await p.close();
});

const balanceOf = (who: Address) =>
  p.t.publicClient.readContract({
    address: p.deployment.token.address,
    abi: testUSDAbi,
    functionName: "balanceOf",
    args: [who],
  });

function batchFetch(name: string, salt: string) {
  const account = privateKeyToAccount(p.t.account(name).privateKey);
  const client = new x402Client()
    .register(
      `eip155:${p.t.chain.id}`,
      new BatchSettlementEvmScheme(toClientEvmSigner(account, p.t.publicClient as never), {
        salt: keccak256(toHex(salt)),
        depositPolicy: { depositMultiplier: 20 },
      }),
    )
    .setSpendControls({
      allowedAssets: [
        { network: `eip155:${p.t.chain.id}`, asset: p.deployment.token.address, maxAmountPerPayment: "100000000" },
      ],
    });
  // Status and headers of every response the client saw (a body clone could stall a stream).
  const responses: { status: number; headers: Headers }[] = [];
  const spy: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    responses.push({ status: response.status, headers: response.headers });
    return response;
  };
  return { fetch: wrapFetchWithPayment(spy, client), responses };
}

test("an unpaid request is answered 402 with both ways to pay: a Verity voucher and x402 batch-settlement", async () => {
  const response = await fetch(`${p.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "verity-tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
  });
  assert.equal(response.status, 402);
  const body = (await response.json()) as { error: { code: string }; payment: { scheme: string } };
  assert.equal(body.error.code, "payment_required");
  assert.equal(body.payment.scheme, "verity-channel");
  const required = decodePaymentRequiredHeader(response.headers.get("PAYMENT-REQUIRED") as string);
  assert.deepEqual(
    required.accepts.map((a) => [a.scheme, a.payTo.toLowerCase()]),
    [["batch-settlement", p.info.address.toLowerCase()]],
  );
});

test("the official openai client over the unmodified x402 batch client: one deposit, then a voucher per request, charged by usage", async () => {
  const payer = p.t.account("client-1").address;
  const before = await balanceOf(payer);
  const blocksBefore = await p.t.publicClient.getBlockNumber();
  const paying = batchFetch("client-1", "openai");
  const openai = new OpenAI({ baseURL: `${p.url}/v1`, apiKey: "unused", fetch: paying.fetch, maxRetries: 0 });
  let charged = 0n;
  for (let i = 0; i < 4; i++) {
    const completion = await openai.chat.completions.create({
      model: "verity-tiny",
      messages: [{ role: "user", content: `say something ${i}` }],
      max_tokens: 8,
    });
    assert.ok(completion.choices[0]?.message.content !== undefined);
    const x402 = (completion as unknown as { verity: { x402: { charge: string; scheme: string } } }).verity.x402;
    assert.equal(x402.scheme, "batch-settlement");
    charged += BigInt(x402.charge);
  }
  const paid = paying.responses.filter((r) => r.status === 200);
  assert.equal(paid.length, 4);
  for (const r of paid)
    assert.equal(decodePaymentResponseHeader(r.headers.get("PAYMENT-RESPONSE") as string).success, true);
  // One transaction for four paid answers: the deposit.
  assert.equal((await p.t.publicClient.getBlockNumber()) - blocksBefore, 1n);
  const deposited = before - (await balanceOf(payer));
  assert.ok(deposited > charged, `deposit ${deposited} covers the charges ${charged}`);

  // The provider claims and sweeps exactly what the answers cost.
  const providerBefore = await balanceOf(p.info.address);
  const claims = p.provider.x402?.claims;
  assert.ok(claims);
  const run = await claims.claimAndSettle();
  assert.equal(run.vouchers, 1);
  assert.equal((await balanceOf(p.info.address)) - providerBefore, charged);
});

test("a stream is paid too: charged its ceiling before the first token, PAYMENT-RESPONSE in the headers", async () => {
  const paying = batchFetch("client-1", "openai");
  const openai = new OpenAI({ baseURL: `${p.url}/v1`, apiKey: "unused", fetch: paying.fetch, maxRetries: 0 });
  const stream = await openai.chat.completions.create({
    model: "verity-tiny",
    messages: [{ role: "user", content: "stream please" }],
    max_tokens: 6,
    stream: true,
  });
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
  assert.equal(typeof text, "string");
  const paid = paying.responses.find((r) => r.status === 200);
  const settled = decodePaymentResponseHeader(paid?.headers.get("PAYMENT-RESPONSE") as string);
  assert.equal(settled.success, true);
});

test("a garbage payment header is refused x402_payment_invalid with a fresh PAYMENT-REQUIRED, nothing charged", async () => {
  const response = await fetch(`${p.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "payment-signature": "not-base64-json" },
    body: JSON.stringify({ model: "verity-tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
  });
  assert.equal(response.status, 402);
  assert.equal(((await response.json()) as { error: { code: string } }).error.code, "x402_payment_invalid");
  assert.ok(response.headers.get("PAYMENT-REQUIRED"));
});
