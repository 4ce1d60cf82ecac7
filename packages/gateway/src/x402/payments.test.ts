import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from "@x402/core/http";
import type { PaymentPayload } from "@x402/core/types";
import { openTestStore } from "../store/store-testing.ts";
import { createFixture, type Fixture, FUNDED, getWithPayment, PRICE, payingFetch, signedPayment } from "./testing.ts";

let f: Fixture;
before(async () => {
  f = await createFixture();
});
after(async () => {
  await f.close();
});

async function errorCode(response: Response): Promise<string> {
  const body = (await response.json()) as { error: { code: string } };
  return body.error.code;
}

async function balances() {
  return { payer: await f.balanceOf("client-1"), payTo: await f.balanceOf(f.payTo) };
}

test("no payment: 402 with a decodable v2 PAYMENT-REQUIRED advertising exact TestUSD on eip155:31337", async () => {
  const response = await fetch(f.url);
  assert.equal(response.status, 402);
  assert.equal(await errorCode(response), "x402_payment_required");
  const header = response.headers.get("PAYMENT-REQUIRED");
  assert.ok(header);
  const required = decodePaymentRequiredHeader(header);
  assert.equal(required.x402Version, 2);
  assert.equal(required.resource.url, f.url);
  assert.equal(required.error, "x402_payment_required");
  // exact first (what an exact-only client picks), then batch-settlement (its contract is on this chain).
  assert.deepEqual(
    required.accepts.map((a) => a.scheme),
    ["exact", "batch-settlement"],
  );
  const [accept] = required.accepts;
  assert.deepEqual(accept, {
    scheme: "exact",
    network: "eip155:31337",
    asset: f.token,
    amount: PRICE.toString(),
    payTo: f.payTo,
    maxTimeoutSeconds: 300,
    extra: { name: "Test USD", version: "1" },
  });
});

const sent: string[] = [];

test("the unmodified @x402/fetch client pays and gets the resource; exactly PRICE moves payer → payTo", async () => {
  const before = await balances();
  assert.equal(before.payer, FUNDED);
  const response = await payingFetch(f, "client-1", sent)(f.url);
  assert.equal(response.status, 200, await response.clone().text());
  const body = (await response.json()) as { resource: string; payer: string; tx: string };
  assert.equal(body.resource, "the paid resource");
  assert.equal(body.payer, f.t.account("client-1").address);

  const header = response.headers.get("PAYMENT-RESPONSE");
  assert.ok(header);
  const settled = decodePaymentResponseHeader(header);
  assert.equal(settled.success, true);
  assert.equal(settled.network, "eip155:31337");
  assert.equal(settled.transaction, body.tx);
  assert.equal(settled.payer?.toLowerCase(), f.t.account("client-1").address.toLowerCase());
  const receipt = await f.t.publicClient.getTransactionReceipt({ hash: body.tx as `0x${string}` });
  assert.equal(receipt.status, "success");
  assert.equal(receipt.from.toLowerCase(), f.gateway.account.address.toLowerCase(), "the gateway paid the gas");

  const afterwards = await balances();
  assert.equal(before.payer - afterwards.payer, PRICE);
  assert.equal(afterwards.payTo - before.payTo, PRICE);
  assert.equal(sent.length, 1, "one payment header was sent");
});

test("replaying an already-settled payment header is refused without a second transfer", async () => {
  const [header] = sent;
  assert.ok(header, "needs the previous test's payment");
  const before = await balances();
  const replay = await getWithPayment(f.url, header);
  assert.equal(replay.status, 402);
  assert.equal(await errorCode(replay), "x402_payment_replayed");

  // A gateway instance without that memory (restart, other replica) is refused by the chain's nonce.
  const fresh = await f.serve(f.newPayments());
  const elsewhere = await getWithPayment(`${fresh.url}/paid`, header);
  assert.equal(elsewhere.status, 402);
  assert.equal(await errorCode(elsewhere), "x402_payment_replayed");
  assert.deepEqual(await balances(), before);
});

test("the same payment sent twice at once is settled once", async () => {
  const required = await f.payments.paymentRequired({ resourceUrl: f.url, description: "x", amount: PRICE });
  const [requirements] = required.paymentRequired.accepts;
  assert.ok(requirements);
  const payment = await signedPayment({ f, signer: "client-1", requirements });
  const before = await balances();
  const responses = await Promise.all([getWithPayment(f.url, payment), getWithPayment(f.url, payment)]);
  assert.deepEqual(
    responses.map((r) => r.status).filter((s) => s === 200),
    [200],
  );
  const refused = responses.find((r) => r.status !== 200);
  assert.ok(refused);
  // 409 while the first holds it, 402 once it settled
  const expected = refused.status === 409 ? "x402_payment_in_flight" : "x402_payment_replayed";
  assert.ok([402, 409].includes(refused.status));
  assert.equal(await errorCode(refused), expected);
  const afterwards = await balances();
  assert.equal(before.payer - afterwards.payer, PRICE);
  assert.equal(afterwards.payTo - before.payTo, PRICE);
});

test("a v1 X-PAYMENT header is accepted and answered with X-PAYMENT-RESPONSE", async () => {
  const required = await f.payments.paymentRequired({ resourceUrl: f.url, description: "x", amount: PRICE });
  const [requirements] = required.paymentRequired.accepts;
  assert.ok(requirements);
  const v2 = await signedPayment({ f, signer: "client-1", requirements });
  const v1 = { x402Version: 1, scheme: "exact", network: "eip155:31337", payload: v2.payload };
  const before = await balances();
  const response = await getWithPayment(f.url, v1 as unknown as PaymentPayload, "X-PAYMENT");
  assert.equal(response.status, 200, await response.clone().text());
  const header = response.headers.get("X-PAYMENT-RESPONSE");
  assert.ok(header);
  assert.equal(decodePaymentResponseHeader(header).success, true);
  assert.equal(before.payer - (await balances()).payer, PRICE);
});

test("with a database, each settlement is recorded in x402_settlements", async () => {
  const stateDir = mkdtempSync(join(tmpdir(), "verity-x402-store-"));
  const store = await openTestStore({ stateDir });
  const server = await f.serve(f.newPayments(store));
  const url = `${server.url}/paid`;
  const response = await payingFetch(f, "client-1")(url);
  assert.equal(response.status, 200);
  const rows = await store.query<{ payer: string; amount: string; tx_hash: string }>(
    "SELECT payer, amount, tx_hash FROM x402_settlements",
  );
  assert.equal(rows.length, 1);
  assert.equal(rows[0]?.payer, f.t.account("client-1").address.toLowerCase());
  assert.equal(rows[0]?.amount, PRICE.toString());
  await store.close();
  rmSync(stateDir, { recursive: true, force: true });
});
