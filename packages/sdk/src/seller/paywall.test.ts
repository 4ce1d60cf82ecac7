import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type ChainClients, connectChain, deploy, type Listening, listen } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import { agentRegistryAbi, modelRegistryAbi, paymentChannelsAbi, testUSDAbi } from "@verity/contracts";
import { type Deployment, encodeVoucherHeader, voucherDomain, voucherTypes } from "@verity/core";
import { x402Client } from "@x402/core/client";
import { decodePaymentRequiredHeader, encodePaymentSignatureHeader } from "@x402/core/http";
import type { PaymentPayload, PaymentRequirements } from "@x402/core/types";
import { authorizationTypes, toClientEvmSigner } from "@x402/evm";
import { ExactEvmScheme } from "@x402/evm/exact/client";
import { wrapFetchWithPayment } from "@x402/fetch";
import { Hono } from "hono";
import { type Address, getAddress, type Hex, keccak256, parseAbi, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { mintTestUSD, openTestChannel } from "../../../provider/src/testing.ts";
import { type PaywallEnv, paywallMiddleware } from "./hono.ts";
import { createPaywall, type Paywall } from "./paywall.ts";

const PRICE = 250_000n;
let t: TestChain;
let deployment: Deployment;
let seller: ChainClients;
let paywall: Paywall;
let server: Listening;
let agentId: bigint;
let modelId: bigint;
let payTo: Address;

async function balanceOf(who: Address): Promise<bigint> {
  return t.publicClient.readContract({
    address: deployment.token.address,
    abi: testUSDAbi,
    functionName: "balanceOf",
    args: [who],
  });
}

before(async () => {
  t = await createTestChain();
  deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  seller = await connectChain({ provider: t.edr.provider, account: t.account("provider-1").privateKey });
  payTo = t.account("treasury").address;
  const registry = deployment.contracts.AgentRegistry.address;
  const sim = await t.publicClient.simulateContract({
    address: registry,
    abi: agentRegistryAbi,
    functionName: "register",
    args: ["https://seller.example/agent.json"],
    account: seller.account,
  });
  agentId = sim.result;
  await t.publicClient.waitForTransactionReceipt({ hash: await t.wallet("provider-1").writeContract(sim.request) });
  const hashes = [keccak256(toHex("seller-service-weights")), keccak256(toHex("seller-service-api"))] as const;
  const reg = await t.wallet("modelOwner").writeContract({
    address: deployment.contracts.ModelRegistry.address,
    abi: modelRegistryAbi,
    functionName: "registerModel",
    args: [hashes[0], hashes[1], 0, "https://example.org/terms", "seller-service"],
  });
  await t.publicClient.waitForTransactionReceipt({ hash: reg });
  modelId = await t.publicClient.readContract({
    address: deployment.contracts.ModelRegistry.address,
    abi: modelRegistryAbi,
    functionName: "modelIdOf",
    args: hashes,
  });
  await mintTestUSD(t, deployment, "client-1", 10_000_000n);
  paywall = createPaywall({
    price: PRICE,
    payTo,
    chain: { ...seller, chainId: t.chain.id },
    token: { ...deployment.token },
    verity: { deployment, agentId, modelId },
    description: "a paid test resource",
  });
  const app = new Hono<PaywallEnv>();
  app.use("/paid/*", paywallMiddleware(paywall));
  app.get("/paid/ok", (c) => c.json({ resource: "paid", payment: { scheme: c.get("payment").scheme } }));
  app.get("/paid/boom", () => {
    throw new Error("the handler failed");
  });
  app.onError((_error, c) => c.json({ error: "the handler failed" }, 500));
  app.get("/paid/refuse", (c) => c.json({ error: "not today" }, 503));
  server = await listen({ fetch: app.fetch });
});

after(async () => {
  await server?.close();
  await paywall?.stop();
  await t?.close();
});

function payingFetch(name: string, sent: string[] = []) {
  const account = privateKeyToAccount(t.account(name).privateKey);
  const client = new x402Client()
    .register(`eip155:${t.chain.id}`, new ExactEvmScheme(toClientEvmSigner(account)))
    .setSpendControls({
      allowedAssets: [
        { network: `eip155:${t.chain.id}`, asset: deployment.token.address, maxAmountPerPayment: "1000000" },
      ],
    });
  const spy: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const header = request.headers.get("PAYMENT-SIGNATURE");
    if (header) sent.push(header);
    return fetch(request);
  };
  return wrapFetchWithPayment(spy, client);
}

async function requirements(): Promise<PaymentRequirements> {
  const res = await fetch(`${server.url}/paid/ok`);
  const header = res.headers.get("PAYMENT-REQUIRED");
  assert.ok(header);
  const [first] = decodePaymentRequiredHeader(header).accepts;
  assert.ok(first);
  return first;
}

async function signed(args: {
  requirements: PaymentRequirements;
  value?: bigint;
  validBefore?: bigint;
  network?: string;
  scheme?: string;
}) {
  const account = privateKeyToAccount(t.account("client-1").privateKey);
  const block = await t.publicClient.getBlock();
  const authorization = {
    from: account.address,
    to: getAddress(args.requirements.payTo),
    value: args.value ?? BigInt(args.requirements.amount),
    validAfter: block.timestamp - 600n,
    validBefore: args.validBefore ?? block.timestamp + 300n,
    nonce: toHex(crypto.getRandomValues(new Uint8Array(32))) as Hex,
  };
  const signature = await account.signTypedData({
    domain: {
      name: String(args.requirements.extra.name),
      version: String(args.requirements.extra.version),
      chainId: t.chain.id,
      verifyingContract: getAddress(args.requirements.asset),
    },
    types: authorizationTypes,
    primaryType: "TransferWithAuthorization",
    message: authorization,
  });
  const payload: PaymentPayload = {
    x402Version: 2,
    accepted: {
      ...args.requirements,
      ...(args.network ? { network: args.network as `${string}:${string}` } : {}),
      ...(args.scheme ? { scheme: args.scheme } : {}),
    },
    payload: {
      signature,
      authorization: {
        ...authorization,
        value: authorization.value.toString(),
        validAfter: authorization.validAfter.toString(),
        validBefore: authorization.validBefore.toString(),
      },
    },
  };
  return { header: encodePaymentSignatureHeader(payload), nonce: authorization.nonce };
}

async function refused(header: string, code: string, path = "/paid/ok") {
  const before = await balanceOf(payTo);
  const res = await fetch(`${server.url}${path}`, { headers: { "PAYMENT-SIGNATURE": header } });
  const body = (await res.json()) as { error: { code: string; details?: Record<string, unknown> } };
  assert.equal(body.error.code, code);
  assert.equal(await balanceOf(payTo), before, "nothing moved");
  return { res, body };
}

test("no payment: 402 with PAYMENT-REQUIRED, the x402 accepts and the Verity channel terms", async () => {
  const res = await fetch(`${server.url}/paid/ok`);
  assert.equal(res.status, 402);
  const body = (await res.json()) as {
    error: { code: string };
    accepts: PaymentRequirements[];
    verity: Record<string, string>;
  };
  assert.equal(body.error.code, "x402_payment_required");
  assert.deepEqual(
    body.accepts.map((a) => [a.scheme, a.amount]),
    [["exact", PRICE.toString()]],
  );
  assert.equal(body.verity.agentId, agentId.toString());
  assert.equal(body.verity.modelId, modelId.toString());
  const required = decodePaymentRequiredHeader(res.headers.get("PAYMENT-REQUIRED") ?? "");
  assert.equal(required.accepts[0]?.payTo, payTo);
  const caps = await paywall.capabilities();
  assert.deepEqual(caps.schemes.sort(), ["exact", "verity"]);
  assert.equal(caps.uptoMissing.length, 2, "no Permit2 and no upto proxy on this chain");
});

test("the unmodified @x402/fetch client buys: the transfer settles before the answer; its header cannot be replayed", async () => {
  const sent: string[] = [];
  const before = await balanceOf(payTo);
  const res = await payingFetch("client-1", sent)(`${server.url}/paid/ok`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { resource: "paid", payment: { scheme: "exact" } });
  assert.ok(res.headers.get("PAYMENT-RESPONSE"));
  assert.equal(await balanceOf(payTo), before + PRICE);
  const [header] = sent;
  assert.ok(header);
  await refused(header, "x402_payment_replayed");
});

test("bad x402 payments are refused with a reason code and move nothing", async () => {
  const req = await requirements();
  await refused((await signed({ requirements: req, value: PRICE - 1n })).header, "x402_insufficient_amount");
  const wrong = await refused((await signed({ requirements: req, network: "eip155:1" })).header, "x402_wrong_network");
  assert.ok(wrong.res.headers.get("PAYMENT-REQUIRED"), "fresh requirements to pay again");
  const block = await t.publicClient.getBlock();
  await refused(
    (await signed({ requirements: req, validBefore: block.timestamp - 1n })).header,
    "x402_payment_expired",
  );
  const upto = await refused((await signed({ requirements: req, scheme: "upto" })).header, "x402_scheme_unavailable");
  assert.deepEqual((upto.body.error.details?.missing as string[] | undefined)?.length, 2);
});

test("a handler that throws or answers an error charges nothing; the authorization stays usable", async () => {
  const req = await requirements();
  for (const path of ["/paid/boom", "/paid/refuse"]) {
    const { header, nonce } = await signed({ requirements: req });
    const before = await balanceOf(payTo);
    const res = await fetch(`${server.url}${path}`, { headers: { "PAYMENT-SIGNATURE": header } });
    assert.ok(res.status >= 500, `${path}: ${res.status}`);
    assert.equal(res.headers.get("PAYMENT-RESPONSE"), null);
    assert.equal(await balanceOf(payTo), before);
    const used = await t.publicClient.readContract({
      address: deployment.token.address,
      abi: parseAbi(["function authorizationState(address, bytes32) view returns (bool)"]),
      functionName: "authorizationState",
      args: [t.account("client-1").address, nonce],
    });
    assert.equal(used, false, "the nonce is unused on chain");
    const ok = await fetch(`${server.url}/paid/ok`, { headers: { "PAYMENT-SIGNATURE": header } });
    assert.equal(ok.status, 200, "the released authorization pays a later call");
  }
});

test("a Verity voucher pays; a replay is refused; a failed handler releases the reservation; the seller claims", async () => {
  const channelId = await openTestChannel({ t, deployment, payer: "client-2", agentId, modelId, amount: 1_000_000n });
  const account = privateKeyToAccount(t.account("client-2").privateKey);
  const voucher = async (amount: bigint) =>
    encodeVoucherHeader({
      channelId,
      cumulativeAmount: amount,
      signature: await account.signTypedData({
        domain: voucherDomain({
          chainId: deployment.chainId,
          verifyingContract: deployment.contracts.PaymentChannels.address,
        }),
        types: voucherTypes,
        primaryType: "Voucher",
        message: { channelId, cumulativeAmount: amount },
      }),
      chainId: deployment.chainId,
    });
  const first = await voucher(PRICE);
  const ok = await fetch(`${server.url}/paid/ok`, { headers: { "Verity-Voucher": first } });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { resource: "paid", payment: { scheme: "verity" } });
  assert.equal(ok.headers.get("verity-charged"), PRICE.toString());
  const replay = await fetch(`${server.url}/paid/ok`, { headers: { "Verity-Voucher": first } });
  assert.equal(replay.status, 409);
  assert.equal(((await replay.json()) as { error: { code: string } }).error.code, "voucher_replayed");
  const low = await fetch(`${server.url}/paid/ok`, { headers: { "Verity-Voucher": await voucher(PRICE + 1n) } });
  assert.equal(((await low.json()) as { error: { code: string } }).error.code, "voucher_below_ceiling");
  const second = await voucher(2n * PRICE);
  const boom = await fetch(`${server.url}/paid/boom`, { headers: { "Verity-Voucher": second } });
  assert.equal(boom.status, 500);
  const again = await fetch(`${server.url}/paid/ok`, { headers: { "Verity-Voucher": second } });
  assert.equal(again.status, 200, "the failed call's reservation was released and its voucher never used");
  assert.equal(again.headers.get("verity-charged"), (2n * PRICE).toString());
  const tx = await paywall.claim(seller);
  assert.ok(tx);
  const [, claimed] = await t.publicClient.readContract({
    address: deployment.contracts.PaymentChannels.address,
    abi: paymentChannelsAbi,
    functionName: "channelState",
    args: [channelId],
  });
  assert.equal(claimed, 2n * PRICE);
  // The claim credited the seller's share; withdrawing pays it to the agent's owner, once.
  const owner = seller.account.address;
  const balance = () =>
    t.publicClient.readContract({
      address: deployment.token.address,
      abi: testUSDAbi,
      functionName: "balanceOf",
      args: [owner],
    });
  const [earnings] = await t.publicClient.readContract({
    address: deployment.contracts.PaymentChannels.address,
    abi: paymentChannelsAbi,
    functionName: "earningsOf",
    args: [agentId],
  });
  assert.ok(earnings > 0n && earnings < 2n * PRICE, "the share net of fee and royalty is credited");
  const before = await balance();
  assert.ok(await paywall.withdraw(seller));
  assert.equal((await balance()) - before, earnings);
  assert.equal(await paywall.withdraw(seller), undefined, "nothing left to withdraw");
});
