import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { listen } from "@verity/chain";
import { x402Client } from "@x402/core/client";
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from "@x402/core/http";
import { BATCH_SETTLEMENT_ADDRESS, toClientEvmSigner } from "@x402/evm";
import { BatchSettlementEvmScheme, InMemoryClientChannelStorage } from "@x402/evm/batch-settlement/client";
import { wrapFetchWithPayment } from "@x402/fetch";
import { Hono } from "hono";
import { type Hex, keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { GatewayStore } from "../store/index.ts";
import { openTestStore } from "../store/store-testing.ts";
import type { X402Charge, X402Payments } from "./payments.ts";
import { x402ErrorResponse } from "./respond.ts";
import { createFixture, type Fixture, FUNDED, PRICE } from "./testing.ts";

const channelsAbi = [
  {
    type: "function",
    name: "channels",
    stateMutability: "view",
    inputs: [{ name: "channelId", type: "bytes32" }],
    outputs: [
      { name: "balance", type: "uint128" },
      { name: "totalClaimed", type: "uint128" },
    ],
  },
] as const;

let f: Fixture;
let stateDir: string;
let store: GatewayStore;
let payments: X402Payments;
let url: string;

before(async () => {
  f = await createFixture();
  stateDir = mkdtempSync(join(tmpdir(), "verity-x402-batch-"));
  store = await openTestStore({ stateDir });
  payments = f.newPayments(store);
  url = `${(await f.serve(payments)).url}/paid`;
});
after(async () => {
  await payments.stop();
  await store.close();
  await f.close();
  rmSync(stateDir, { recursive: true, force: true });
});

/** The unmodified batch-settlement client for devnet account `name` (its own channel storage). */
function batchClient(name: string, options: { salt?: Hex; storage?: InMemoryClientChannelStorage } = {}) {
  const account = privateKeyToAccount(f.t.account(name).privateKey);
  const storage = options.storage ?? new InMemoryClientChannelStorage();
  const scheme = new BatchSettlementEvmScheme(toClientEvmSigner(account, f.t.publicClient as never), {
    storage,
    depositPolicy: { depositMultiplier: 10 },
    ...(options.salt ? { salt: options.salt } : {}),
  });
  const client = new x402Client().register(`eip155:${f.t.chain.id}`, scheme).setSpendControls({
    allowedAssets: [{ network: `eip155:${f.t.chain.id}`, asset: f.token, maxAmountPerPayment: "100000000" }],
  });
  const sent: string[] = [];
  const spy: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const header = request.headers.get("PAYMENT-SIGNATURE");
    if (header) sent.push(header);
    return fetch(request);
  };
  return { fetch: wrapFetchWithPayment(spy, client), sent, storage, scheme };
}

async function channelRecords(payer: string) {
  const rows = await store.query<{ record: { chargedCumulativeAmount: string; channelId: string } }>(
    "SELECT record FROM x402_batch_channels WHERE payer = $1",
    [f.t.account(payer).address.toLowerCase()],
  );
  return rows.map((r) => (typeof r.record === "string" ? JSON.parse(r.record) : r.record));
}

test("402 advertises batch-settlement beside exact, naming the scheme's contract and the gateway as receiver authorizer", async () => {
  const response = await fetch(url);
  assert.equal(response.status, 402);
  const required = decodePaymentRequiredHeader(response.headers.get("PAYMENT-REQUIRED") as string);
  assert.deepEqual(
    required.accepts.map((a) => a.scheme),
    ["exact", "batch-settlement"],
  );
  const batch = required.accepts[1];
  assert.ok(batch);
  assert.equal(batch.amount, PRICE.toString());
  assert.equal(
    String((batch.extra as { receiverAuthorizer?: string }).receiverAuthorizer).toLowerCase(),
    f.gateway.account.address.toLowerCase(),
  );
  assert.notEqual(await f.t.publicClient.getCode({ address: BATCH_SETTLEMENT_ADDRESS }), undefined);
});

test("the unmodified client pays a stream of requests over one channel: one deposit on chain, then vouchers only", async () => {
  const before = await f.balanceOf("client-1");
  const blockBefore = await f.t.publicClient.getBlockNumber();
  const client = batchClient("client-1", { salt: keccak256(toHex("stream")) });
  for (let i = 0; i < 5; i++) {
    const response = await client.fetch(url);
    assert.equal(response.status, 200, await response.text());
    const settled = decodePaymentResponseHeader(response.headers.get("PAYMENT-RESPONSE") as string);
    assert.equal(settled.success, true);
  }
  // One transaction: the deposit (10 × PRICE) the first request carried; the other four paid off chain.
  assert.equal((await f.t.publicClient.getBlockNumber()) - blockBefore, 1n);
  assert.equal(await f.balanceOf("client-1"), before - 10n * PRICE);
  const [record] = await channelRecords("client-1");
  assert.equal(record?.chargedCumulativeAmount, (5n * PRICE).toString());
  // Each request after the first carried a voucher whose cumulative ceiling grew by PRICE.
  assert.equal(client.sent.length, 5);
  assert.ok(before <= FUNDED);
});

test("claims and the sweep move exactly what was charged to the gateway; the rest stays the payer's", async () => {
  const gatewayBefore = await f.balanceOf(f.payTo);
  const claims = payments.batchClaims;
  assert.ok(claims, "batch claims run");
  const { vouchers, transactions } = await claims.claimAndSettle();
  assert.ok(vouchers >= 1);
  assert.ok(transactions.length >= 2);
  assert.equal((await f.balanceOf(f.payTo)) - gatewayBefore, 5n * PRICE);
  const [record] = await channelRecords("client-1");
  const [balance, totalClaimed] = await f.t.publicClient.readContract({
    address: BATCH_SETTLEMENT_ADDRESS,
    abi: channelsAbi,
    functionName: "channels",
    args: [record?.channelId as Hex],
  });
  assert.equal(totalClaimed, 5n * PRICE);
  assert.equal(balance, 10n * PRICE);
  // Claiming again finds nothing new: no second payment for the same vouchers.
  const again = await claims.claimAndSettle();
  assert.equal(again.vouchers, 0);
  assert.equal((await f.balanceOf(f.payTo)) - gatewayBefore, 5n * PRICE);
});

test("a client that lost its channel state gets a corrective 402 with the channel state, resyncs and pays", async () => {
  await f.mint("client-5", FUNDED);
  const salt = keccak256(toHex("resync"));
  const first = batchClient("client-5", { salt });
  for (let i = 0; i < 2; i++) assert.equal((await (await first.fetch(url)).json()).resource, "the paid resource");
  // A second client with the same key and salt but none of the first one's state (a restart with
  // its storage lost) starts from the chain (nothing claimed yet): its voucher base is stale.
  const fresh = batchClient("client-5", { salt });
  const response = await fresh.fetch(url);
  assert.equal(response.status, 200, await response.text());
  // The first voucher was refused with the channel state; the retry continued from 2 × PRICE.
  assert.equal(fresh.sent.length, 2);
  const [record] = await channelRecords("client-5");
  assert.equal(record?.chargedCumulativeAmount, (3n * PRICE).toString());
});

test("two requests at once on one channel: one is answered, the other is refused channel_busy and charges nothing", async () => {
  await f.mint("client-2", FUNDED);
  const client = batchClient("client-2", { salt: keccak256(toHex("busy")) });
  assert.equal((await (await client.fetch(url)).json()).resource, "the paid resource");
  f.hooks.afterVerify = () => new Promise((resolve) => setTimeout(resolve, 300));
  const answers = await Promise.all([client.fetch(url), client.fetch(url)]);
  const bodies = await Promise.all(answers.map((r) => r.json() as Promise<{ error?: { code: string } }>));
  assert.deepEqual(answers.map((r) => r.status).sort(), [200, 409], JSON.stringify(bodies));
  assert.deepEqual(bodies.map((b) => b.error?.code).filter(Boolean), ["x402_channel_busy"]);
  const [record] = await channelRecords("client-2");
  assert.equal(record?.chargedCumulativeAmount, (2n * PRICE).toString());
});

test("a usage-based charge: the voucher covers the ceiling, the channel is charged what the answer cost", async () => {
  // A route like the chat completion's: the ceiling is PRICE, the answer cost a quarter of it.
  const app = new Hono();
  app.get("/metered", async (c) => {
    const charge: X402Charge = { resourceUrl: c.req.url, description: "metered", amount: PRICE };
    try {
      const verified = await payments.verify(c.req.raw.headers, charge);
      const settlement = await payments.settle(verified, PRICE / 4n);
      c.header(settlement.headerName, settlement.header);
      return c.json({ charged: settlement.amount.toString() });
    } catch (error) {
      return x402ErrorResponse(payments, charge, error);
    }
  });
  const server = await listen({ fetch: app.fetch });
  await f.mint("client-3", FUNDED);
  const client = batchClient("client-3", { salt: keccak256(toHex("usage")) });
  for (let i = 0; i < 3; i++) {
    const response = await client.fetch(`${server.url}/metered`);
    assert.equal(response.status, 200, await response.clone().text());
    assert.deepEqual(await response.json(), { charged: (PRICE / 4n).toString() });
  }
  const [record] = await channelRecords("client-3");
  assert.equal(record?.chargedCumulativeAmount, ((3n * PRICE) / 4n).toString());
  await server.close();
});

test("a voucher signed by someone else, or for more than the deposit, is refused and charges nothing", async () => {
  const [record] = await channelRecords("client-3");
  const before = record?.chargedCumulativeAmount;
  // client-4 has no funds: its deposit cannot land, so nothing is charged and no answer is given.
  const client = batchClient("client-4", { salt: keccak256(toHex("unfunded")) });
  const response = await client.fetch(url);
  assert.notEqual(response.status, 200, await response.text());
  assert.deepEqual(await channelRecords("client-4"), []);
  const [after] = await channelRecords("client-3");
  assert.equal(after?.chargedCumulativeAmount, before);
});
