import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { deploy } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import { testUSDAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import { x402Client } from "@x402/core/client";
import { decodePaymentRequiredHeader, encodePaymentSignatureHeader } from "@x402/core/http";
import type { PaymentRequirements } from "@x402/core/types";
import { toClientEvmSigner } from "@x402/evm";
import { ExactEvmScheme } from "@x402/evm/exact/client";
import { type Address, getAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../../provider/src/testing.ts";
import { createGateway, type Gateway } from "../gateway.ts";
import { gatewayStateDir } from "../store/store-testing.ts";

let t: TestChain;
let deployment: Deployment;
let provider: TestProvider;
let stateDir: string;
let gateway: Gateway;
let url: string;
const gatewayAccount = () => privateKeyToAccount(t.account("gateway").privateKey);

function startGateway(): Gateway {
  return createGateway({
    allowPrivateEndpoints: true,
    deployment,
    provider: t.edr.provider,
    account: gatewayAccount(),
    stateDir,
    indexerPollMs: 50,
    probeIntervalMs: 200,
  });
}

before(async () => {
  t = await createTestChain();
  deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  provider = await startTestProvider({ t, deployment, account: "provider-1", outputPricePerMTok: 2_000_000n });
  await mintTestUSD(t, deployment, "gateway", 100_000_000n);
  await mintTestUSD(t, deployment, "client-4", 10_000_000n);
  stateDir = await gatewayStateDir("verity-x402-attack-");
  gateway = startGateway();
  url = (await gateway.start()).url;
  // Opens the gateway's channel to the provider, so later balances move only by x402 payments.
  const warm = await pay({ payer: "client-4", stream: false });
  assert.equal(warm.status, 200, await warm.clone().text());
});
after(async () => {
  await gateway.stop();
  await provider.close();
  await t.close();
});

async function balanceOf(who: Address): Promise<bigint> {
  return t.publicClient.readContract({
    address: deployment.token.address,
    abi: testUSDAbi,
    functionName: "balanceOf",
    args: [who],
  });
}
const balances = async (payer: string) => ({
  payer: await balanceOf(t.account(payer).address),
  gateway: await balanceOf(t.account("gateway").address),
});

const body = (stream: boolean, maxTokens = 8) =>
  JSON.stringify({
    model: "verity-tiny",
    messages: [{ role: "user", content: "pay once" }],
    max_tokens: maxTokens,
    stream,
  });

function post(base: string, stream: boolean, header?: string): Promise<Response> {
  return fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(header ? { "PAYMENT-SIGNATURE": header } : {}) },
    body: body(stream),
  });
}

/** What the gateway asks for this request (402 PAYMENT-REQUIRED). */
async function requirementsFor(stream: boolean): Promise<PaymentRequirements> {
  const response = await post(url, stream);
  assert.equal(response.status, 402);
  const header = response.headers.get("PAYMENT-REQUIRED");
  assert.ok(header);
  const [accepts] = decodePaymentRequiredHeader(header).accepts;
  assert.ok(accepts);
  return accepts;
}

/** A PAYMENT-SIGNATURE made by the official x402 client of `payer` for `requirements`. */
async function paymentHeader(payer: string, requirements: PaymentRequirements): Promise<string> {
  const account = privateKeyToAccount(t.account(payer).privateKey);
  const client = new x402Client()
    .register(requirements.network as `${string}:${string}`, new ExactEvmScheme(toClientEvmSigner(account)))
    .setSpendControls({
      allowedAssets: [{ network: requirements.network, asset: requirements.asset, maxAmountPerPayment: "1000000" }],
    });
  const payload = await client.createPaymentPayload({ x402Version: 2, resource: { url }, accepts: [requirements] });
  return encodePaymentSignatureHeader(payload);
}

async function pay(args: { payer: string; stream: boolean }): Promise<Response> {
  return post(url, args.stream, await paymentHeader(args.payer, await requirementsFor(args.stream)));
}

function nonceOf(header: string): `0x${string}` {
  const decoded = JSON.parse(Buffer.from(header, "base64").toString()) as {
    payload: { authorization: { nonce: `0x${string}` } };
  };
  return decoded.payload.authorization.nonce;
}

async function authorizationUsed(payer: string, nonce: `0x${string}`): Promise<boolean> {
  return t.publicClient.readContract({
    address: deployment.token.address,
    abi: testUSDAbi,
    functionName: "authorizationState",
    args: [t.account(payer).address, nonce],
  });
}

async function errorOf(response: Response): Promise<{ code: string; details?: Record<string, unknown> }> {
  return ((await response.json()) as { error: { code: string; details?: Record<string, unknown> } }).error;
}

test("attack: the same PAYMENT-SIGNATURE on 6 concurrent requests gets one answer for one payment", async () => {
  const requirements = await requirementsFor(false);
  const header = await paymentHeader("client-4", requirements);
  const start = await balances("client-4");
  const responses = await Promise.all(Array.from({ length: 6 }, () => post(url, false, header)));
  const answered = responses.filter((r) => r.status === 200);
  assert.equal(answered.length, 1, `statuses ${responses.map((r) => r.status)}`);
  for (const refused of responses.filter((r) => r.status !== 200)) {
    const error = await errorOf(refused);
    const expected = refused.status === 409 ? "x402_payment_in_flight" : "x402_payment_replayed";
    assert.ok([402, 409].includes(refused.status), `status ${refused.status}`);
    assert.equal(error.code, expected);
  }
  const end = await balances("client-4");
  assert.equal(start.payer - end.payer, BigInt(requirements.amount), "the payer was charged once");
  assert.equal(end.gateway - start.gateway, BigInt(requirements.amount), "the gateway was paid once");
});

test("attack: replaying a PAYMENT-SIGNATURE after the gateway restarts on the same state dir", async () => {
  const requirements = await requirementsFor(false);
  const settledHeader = await paymentHeader("client-4", requirements);
  const first = await post(url, false, settledHeader);
  assert.equal(first.status, 200, await first.clone().text());
  await gateway.stop();
  gateway = startGateway();
  url = (await gateway.start()).url;
  const start = await balances("client-4");
  const replay = await post(url, false, settledHeader);
  assert.equal(replay.status, 402);
  const error = await errorOf(replay);
  assert.equal(error.code, "x402_payment_replayed");
  assert.equal(error.details?.state, "settled", "refused from the gateway's own record, before any chain call");
  assert.deepEqual(await balances("client-4"), start, "nothing moved");
});

test("attack: the payer cancels its authorization (EIP-3009 cancelAuthorization) while the answer streams", async () => {
  const requirements = await requirementsFor(true);
  const header = await paymentHeader("client-4", requirements);
  const nonce = nonceOf(header);
  const payer = t.account("client-4").address;
  const start = await balances("client-4");
  await t.testClient.setAutomine(false);
  try {
    const response = await post(url, true, header);
    assert.equal(response.status, 200);
    const reading = response.text();
    // The gateway's settlement waits in the mempool; the payer's cancel goes in ahead of it.
    const gatewayAddress = getAddress(t.account("gateway").address);
    for (;;) {
      const block = await t.publicClient.getBlock({ blockTag: "pending", includeTransactions: true });
      if (block.transactions.some((tx) => getAddress(tx.from) === gatewayAddress)) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const signature = await t.wallet("client-4").signTypedData({
      domain: {
        name: deployment.token.name,
        version: deployment.token.version,
        chainId: t.chain.id,
        verifyingContract: deployment.token.address,
      },
      types: {
        CancelAuthorization: [
          { name: "authorizer", type: "address" },
          { name: "nonce", type: "bytes32" },
        ],
      },
      primaryType: "CancelAuthorization",
      message: { authorizer: payer, nonce },
    });
    await t.wallet("client-4").writeContract({
      address: deployment.token.address,
      abi: testUSDAbi,
      functionName: "cancelAuthorization",
      args: [payer, nonce, signature],
      gas: 200_000n, // estimated on the pending block, where the gateway's transfer already used the nonce
      maxPriorityFeePerGas: 50_000_000_000n,
    });
    await t.testClient.mine({ blocks: 1 });
    await t.testClient.setAutomine(true);
    const events = (await reading)
      .split("\n")
      .filter((l) => l.startsWith("data: "))
      .map((l) => l.slice(6));
    assert.equal(events.includes("[DONE]"), false, "the answer is not completed");
    const parsed = events.map((e) => JSON.parse(e) as Record<string, unknown>);
    const text = parsed
      .map((e) => (e.choices as { delta?: { content?: string } }[] | undefined)?.[0]?.delta?.content ?? "")
      .join("");
    assert.equal(text, "", "no text before the payment settled, and nothing settled");
    const last = parsed.at(-1) as { error?: { code: string } };
    assert.equal(last.error?.code, "x402_settlement_failed");
    assert.equal(await authorizationUsed("client-4", nonce), true, "cancelled on chain");
  } finally {
    await t.testClient.setAutomine(true);
  }
  const end = await balances("client-4");
  assert.equal(end.payer, start.payer, "the payer paid nothing");
  assert.equal(end.gateway, start.gateway, "the gateway received nothing");
  // The cancelled authorization is refused from then on.
  const replay = await post(url, true, header);
  assert.equal(replay.status, 402);
  assert.equal((await errorOf(replay)).code, "x402_payment_replayed");
});

test("attack: a payment for another chain, asset or payee is refused", async () => {
  const requirements = await requirementsFor(false);
  const start = await balances("client-4");
  const other = { ...requirements };
  const cases: PaymentRequirements[] = [
    { ...other, network: "eip155:1" },
    { ...other, asset: provider.deployment.contracts.PaymentChannels.address },
    { ...other, payTo: t.account("client-5").address },
  ];
  for (const terms of cases) {
    const header = await paymentHeader("client-4", terms);
    const response = await post(url, false, header);
    assert.equal(response.status, 402, JSON.stringify(terms));
    assert.equal((await errorOf(response)).code, "x402_payment_invalid", JSON.stringify(terms));
  }
  assert.deepEqual(await balances("client-4"), start, "nothing moved");
  assert.equal(await balanceOf(t.account("client-5").address), 0n);
});
