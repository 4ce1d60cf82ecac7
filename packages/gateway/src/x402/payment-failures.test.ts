import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { testUSDAbi } from "@verity/contracts";
import { decodePaymentRequiredHeader, decodePaymentSignatureHeader } from "@x402/core/http";
import type { PaymentPayload, PaymentRequirements } from "@x402/core/types";
import { wrapFetchWithPayment } from "@x402/fetch";
import { createFixture, type Fixture, getWithPayment, PRICE, signedPayment, x402ClientFor } from "./testing.ts";

let f: Fixture;
let requirements: PaymentRequirements;
before(async () => {
  f = await createFixture();
  const required = await f.payments.paymentRequired({ resourceUrl: f.url, description: "x", amount: PRICE });
  requirements = required.paymentRequired.accepts[0]!;
});
after(async () => {
  await f.close();
});

let start: { payer: bigint; payTo: bigint };
beforeEach(async () => {
  start = { payer: await f.balanceOf("client-1"), payTo: await f.balanceOf(f.payTo) };
});

/** Asserts a refusal with `code` (and a fresh PAYMENT-REQUIRED on 402s) and that no token moved. */
async function assertRefused(response: Response, status: number, code: string): Promise<void> {
  const body = (await response.json()) as { error: { code: string; details?: Record<string, unknown> } };
  assert.equal(response.status, status, JSON.stringify(body));
  assert.equal(body.error.code, code, JSON.stringify(body));
  assert.equal(JSON.stringify(body).includes("the paid resource"), false, "the resource is withheld");
  if (status === 402) {
    const header = response.headers.get("PAYMENT-REQUIRED");
    assert.ok(header, "a refused payment is answered with fresh requirements");
    assert.equal(decodePaymentRequiredHeader(header).error, code);
  }
  assert.equal(await f.balanceOf("client-1"), start.payer, "the payer was not charged");
  assert.equal(await f.balanceOf(f.payTo), start.payTo, "the payee received nothing");
}

/** A payment header the official client made for `requirements`, decoded. */
async function officialPayment(name = "client-1", accepts = requirements): Promise<PaymentPayload> {
  return x402ClientFor(f, name).createPaymentPayload({
    x402Version: 2,
    resource: { url: f.url },
    accepts: [accepts],
  });
}

test("a payment whose amount was raised after signing is x402_payment_invalid", async () => {
  const payment = await officialPayment();
  const auth = (payment.payload as { authorization: { value: string } }).authorization;
  auth.value = (PRICE * 4n).toString();
  await assertRefused(await getWithPayment(f.url, payment), 402, "x402_payment_invalid");
});

test("a payment redirected to another payee is x402_payment_invalid", async () => {
  const payment = await officialPayment();
  const auth = (payment.payload as { authorization: { to: string } }).authorization;
  auth.to = f.t.account("client-2").address;
  await assertRefused(await getWithPayment(f.url, payment), 402, "x402_payment_invalid");
});

test("a forged payment (client-2 signs for client-1's account) is x402_payment_invalid", async () => {
  const payment = await signedPayment({ f, signer: "client-2", from: f.t.account("client-1").address, requirements });
  await assertRefused(await getWithPayment(f.url, payment), 402, "x402_payment_invalid");
});

test("garbage and non-EIP-3009 payment headers are x402_payment_invalid", async () => {
  await assertRefused(await getWithPayment(f.url, "not base64 json!"), 402, "x402_payment_invalid");
  const payment = await officialPayment();
  const noSignature = { ...payment, payload: { authorization: payment.payload.authorization } };
  await assertRefused(await getWithPayment(f.url, noSignature), 402, "x402_payment_invalid");
});

test("an authorization whose validBefore has passed is x402_payment_expired", async () => {
  const now = BigInt(Math.floor(Date.now() / 1000));
  const payment = await signedPayment({ f, signer: "client-1", requirements, validBefore: now - 10n });
  await assertRefused(await getWithPayment(f.url, payment), 402, "x402_payment_expired");
});

test("deadlines are judged by chain time: a fresh authorization is expired once the chain is past it", async () => {
  const restore = await f.t.snapshot();
  try {
    const payment = await officialPayment();
    await f.t.increaseTime(3_600);
    await assertRefused(await getWithPayment(f.url, payment), 402, "x402_payment_expired");
  } finally {
    await restore();
  }
});

test("paying a stale, cheaper price with the official client is x402_insufficient_amount", async () => {
  const payment = await officialPayment("client-1", { ...requirements, amount: (PRICE - 1n).toString() });
  await assertRefused(await getWithPayment(f.url, payment), 402, "x402_insufficient_amount");
  // The same cheaper authorization restated as if it accepted the full price does not help.
  const restated = { ...payment, accepted: requirements };
  await assertRefused(await getWithPayment(f.url, restated), 402, "x402_insufficient_amount");
});

test("a payer without enough tokens is x402_insufficient_funds", async () => {
  const response = await wrapFetchWithPayment(fetch, x402ClientFor(f, "client-3"))(f.url);
  await assertRefused(response, 402, "x402_insufficient_funds");
});

test("a payer drained between verify and settle: 502 x402_settlement_failed, resource withheld", async () => {
  const payer = f.t.account("client-1").address;
  let drained = 0n;
  f.hooks.afterVerify = async () => {
    drained = await f.balanceOf(payer);
    const hash = await f.t.wallet("client-1").writeContract({
      address: f.token,
      abi: testUSDAbi,
      functionName: "transfer",
      args: [f.t.account("client-2").address, drained],
    });
    await f.t.publicClient.waitForTransactionReceipt({ hash });
  };
  const sent: string[] = [];
  const spy: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const header = request.headers.get("PAYMENT-SIGNATURE");
    if (header) sent.push(header);
    return fetch(request);
  };
  const response = await wrapFetchWithPayment(spy, x402ClientFor(f, "client-1"))(f.url);
  const body = (await response.json()) as { error: { code: string; details: { diagnosis?: string } } };
  assert.equal(response.status, 502, JSON.stringify(body));
  assert.equal(body.error.code, "x402_settlement_failed");
  assert.equal(body.error.details.diagnosis, "invalid_exact_evm_insufficient_balance");
  assert.equal(JSON.stringify(body).includes("the paid resource"), false);
  assert.equal(await f.balanceOf(f.payTo), start.payTo, "the payee received nothing");
  assert.equal(await f.balanceOf(payer), 0n);

  // The authorization stayed unused on chain: refunded, the payer can still settle it.
  await f.mint("client-1", drained);
  const [header] = sent;
  assert.ok(header);
  const nonce = (decodePaymentSignatureHeader(header).payload as { authorization: { nonce: `0x${string}` } })
    .authorization.nonce;
  const used = await f.t.publicClient.readContract({
    address: f.token,
    abi: testUSDAbi,
    functionName: "authorizationState",
    args: [payer, nonce],
  });
  assert.equal(used, false);
  const retry = await getWithPayment(f.url, header);
  assert.equal(retry.status, 200, await retry.clone().text());
  assert.equal(drained - (await f.balanceOf(payer)), PRICE);
});
