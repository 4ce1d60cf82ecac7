/**
 * Test fixture: the in-process chain with the contracts deployed, TestUSD minted to client-1, and a
 * tiny Hono server on loopback that charges `PRICE` for `GET /paid` through `createX402Payments`
 * (facilitator wallet: the devnet `gateway` account; payee: `treasury`). Plus the official x402
 * client (`@x402/fetch` + the `exact` EVM client scheme) and a signer for hand-made authorizations.
 */
import { type ChainClients, connectChain, deploy, type Listening, listen } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import { testUSDAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import { x402Client } from "@x402/core/client";
import { encodePaymentSignatureHeader } from "@x402/core/http";
import type { PaymentPayload, PaymentRequirements } from "@x402/core/types";
import { authorizationTypes, toClientEvmSigner } from "@x402/evm";
import { ExactEvmScheme } from "@x402/evm/exact/client";
import { wrapFetchWithPayment } from "@x402/fetch";
import { Hono } from "hono";
import { type Address, getAddress, type Hex, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { GatewayStore } from "../store/index.ts";
import { createX402Payments, type X402Charge, type X402Payments } from "./payments.ts";
import { x402ErrorResponse } from "./respond.ts";

/** 0.25 TestUSD (6 decimals). */
export const PRICE = 250_000n;
/** What client-1 starts with: 10 TestUSD. */
export const FUNDED = 10_000_000n;

export type Fixture = {
  t: TestChain;
  deployment: Deployment;
  token: Address;
  payTo: Address;
  gateway: ChainClients;
  payments: X402Payments;
  server: Listening;
  url: string;
  /** Runs between verify and settle of the next paid request (e.g. to drain the payer). */
  hooks: { afterVerify?: (() => Promise<void>) | undefined };
  balanceOf(name: string | Address): Promise<bigint>;
  mint(name: string, amount: bigint): Promise<void>;
  /** A new payments module (fresh in-memory guard) on the same chain, token and payee. */
  newPayments(store?: GatewayStore): X402Payments;
  /** A Hono server charging `PRICE` for `GET /paid` through `payments`. */
  serve(payments: X402Payments): Promise<Listening>;
  close(): Promise<void>;
};

export async function createFixture(): Promise<Fixture> {
  const t = await createTestChain();
  const deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  const token = deployment.token.address;
  const payTo = t.account("treasury").address;
  const gateway = await connectChain({ provider: t.edr.provider, account: t.account("gateway").privateKey });
  const hooks: Fixture["hooks"] = {};
  const servers: Listening[] = [];

  function newPayments(store?: GatewayStore): X402Payments {
    return createX402Payments({
      chainId: t.chain.id,
      token: {
        address: token,
        name: deployment.token.name,
        version: deployment.token.version,
        decimals: deployment.token.decimals,
      },
      payTo,
      facilitator: gateway,
      ...(store === undefined ? {} : { store }),
    });
  }

  async function serve(payments: X402Payments): Promise<Listening> {
    const app = new Hono();
    app.get("/paid", async (c) => {
      const charge: X402Charge = { resourceUrl: c.req.url, description: "A paid test resource", amount: PRICE };
      try {
        const verified = await payments.verify(c.req.raw.headers, charge);
        const hook = hooks.afterVerify;
        hooks.afterVerify = undefined;
        await hook?.();
        const settlement = await payments.settle(verified);
        c.header(settlement.headerName, settlement.header);
        return c.json({ resource: "the paid resource", payer: settlement.payer, tx: settlement.txHash });
      } catch (error) {
        return x402ErrorResponse(payments, charge, error);
      }
    });
    const server = await listen({ fetch: app.fetch });
    servers.push(server);
    return server;
  }

  async function mint(name: string, amount: bigint): Promise<void> {
    const hash = await t.wallet("deployer").writeContract({
      address: token,
      abi: testUSDAbi,
      functionName: "mint",
      args: [t.account(name).address, amount],
    });
    await t.publicClient.waitForTransactionReceipt({ hash });
  }

  await mint("client-1", FUNDED);
  const payments = newPayments();
  const server = await serve(payments);
  return {
    t,
    deployment,
    token,
    payTo,
    gateway,
    payments,
    server,
    url: `${server.url}/paid`,
    hooks,
    mint,
    newPayments,
    serve,
    balanceOf: (who) =>
      t.publicClient.readContract({
        address: token,
        abi: testUSDAbi,
        functionName: "balanceOf",
        args: [who.startsWith("0x") ? (who as Address) : t.account(who).address],
      }),
    async close() {
      for (const s of servers) await s.close();
      await t.close();
    },
  };
}

/** The official x402 client for devnet account `name`, allowed to pay TestUSD (not a default asset). */
export function x402ClientFor(f: Fixture, name: string): x402Client {
  const account = privateKeyToAccount(f.t.account(name).privateKey);
  return new x402Client()
    .register(`eip155:${f.t.chain.id}`, new ExactEvmScheme(toClientEvmSigner(account)))
    .setSpendControls({
      allowedAssets: [{ network: `eip155:${f.t.chain.id}`, asset: f.token, maxAmountPerPayment: "1000000" }],
    });
}

/** `wrapFetchWithPayment` for `name`; `sent` collects the payment headers it sent. */
export function payingFetch(f: Fixture, name: string, sent: string[] = []) {
  const spy: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const header = request.headers.get("PAYMENT-SIGNATURE") ?? request.headers.get("X-PAYMENT");
    if (header) sent.push(header);
    return fetch(request);
  };
  return wrapFetchWithPayment(spy, x402ClientFor(f, name));
}

/** Signs an EIP-3009 authorization by hand (for payloads an honest client would not make). */
export async function signedPayment(args: {
  f: Fixture;
  signer: string;
  requirements: PaymentRequirements;
  from?: Address;
  value?: bigint;
  validAfter?: bigint;
  validBefore?: bigint;
}): Promise<PaymentPayload> {
  const { f, requirements } = args;
  const account = privateKeyToAccount(f.t.account(args.signer).privateKey);
  const now = BigInt(Math.floor(Date.now() / 1000));
  const authorization = {
    from: args.from ?? account.address,
    to: getAddress(requirements.payTo),
    value: args.value ?? BigInt(requirements.amount),
    validAfter: args.validAfter ?? now - 600n,
    validBefore: args.validBefore ?? now + 300n,
    nonce: toHex(crypto.getRandomValues(new Uint8Array(32))) as Hex,
  };
  const signature = await account.signTypedData({
    domain: {
      name: String(requirements.extra.name),
      version: String(requirements.extra.version),
      chainId: f.t.chain.id,
      verifyingContract: getAddress(requirements.asset),
    },
    types: authorizationTypes,
    primaryType: "TransferWithAuthorization",
    message: authorization,
  });
  return {
    x402Version: 2,
    accepted: requirements,
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
}

/** `GET url` with a raw payment header. */
export function getWithPayment(url: string, payload: PaymentPayload | string, header = "PAYMENT-SIGNATURE") {
  const value = typeof payload === "string" ? payload : encodePaymentSignatureHeader(payload);
  return fetch(url, { headers: { [header]: value } });
}
