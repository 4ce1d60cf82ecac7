/**
 * `createPaywall`: sell any HTTP route for x402 and Verity vouchers at once.
 *
 * - x402 `exact`: one EIP-3009 `transferWithAuthorization` of the token pays one call, verified
 *   and settled by an in-process x402 facilitator (the official `x402ResourceServer` and `exact`
 *   EVM scheme over the seller's wallet, which pays the gas) — the gateway's door, shared through
 *   @verity/chain/x402: chain-time deadlines, Verity reason codes, one authorization one answer
 *   (recorded in the seller's SQLite before the handler runs).
 * - x402 `upto` is advertised only where it can settle: @x402/evm's `upto` scheme is Permit2-based
 *   (Uniswap's Permit2 at 0x000000000022D473030F116dDEE9F6B43aC78BA3 and the x402UptoPermit2Proxy
 *   at its CREATE2 address); the package ships their ABIs and addresses, not their bytecode. On a
 *   chain without both, an `upto` payment is refused with `x402_scheme_unavailable` (details name
 *   what is missing) and the buyer gets fresh requirements for the schemes that work.
 * - Verity vouchers (`Verity-Voucher`): see voucher-sales.ts.
 *
 * Order of a paid call: price → payment checked and reserved → handler → on success the payment is
 * settled (x402: the transfer is on chain; voucher: the charge is committed to SQLite) and only then
 * is the response released, with `PAYMENT-RESPONSE` / `Verity-Charged`; on a handler error (thrown
 * or a status ≥ 400) nothing is charged: the authorization is released unsubmitted (its nonce stays
 * unused on chain) or the voucher's reservation is given back.
 */
import {
  createAuthorizationGuard,
  createExactPayments,
  createLocalFacilitator,
  type ExactPayments,
  type ExactVerified,
  type FacilitatorClients,
  type HeaderSource,
  LocalFacilitatorClient,
  type X402Charge,
  type X402Token,
} from "@verity/chain/x402";
import { BaseError, type Deployment, HEADERS, PaymentError, reasonStatus } from "@verity/core";
import { decodePaymentSignatureHeader, encodePaymentRequiredHeader } from "@x402/core/http";
import { PAYMENT_REQUIRED_CACHE_CONTROL, x402ResourceServer } from "@x402/core/server";
import type { Network, PaymentRequired } from "@x402/core/types";
import { PERMIT2_ADDRESS, x402UptoPermit2ProxyAddress } from "@x402/evm";
import { ExactEvmScheme } from "@x402/evm/exact/server";
import { type Address, getAddress, type PublicClient } from "viem";
import { createSellerStore } from "./seller-store.ts";
import { createVoucherSales, type VoucherSale } from "./voucher-sales.ts";

export type PaywallScheme = "exact" | "upto" | "verity";

export type PaywallOptions = {
  /** Price of one call in the token's base units, or a function of the request (clone it to read the body). */
  price?: bigint;
  priceFn?: (request: Request) => bigint | Promise<bigint>;
  /** Who receives x402 payments. */
  payTo: Address;
  /** The chain: its id and the wallet that submits x402 settlements (and pays their gas). */
  chain: { chainId: number } & FacilitatorClients;
  /** The EIP-3009 token paid in (its EIP-712 name and version). */
  token: X402Token;
  /** What is accepted (default: `exact`, `upto`, and `verity` when `verity` is given). */
  schemes?: PaywallScheme[];
  /** Verity vouchers: the deployment, the seller's agent id and the model (service) id channels name. */
  verity?: { deployment: Deployment; agentId: bigint; modelId: bigint; indexPath?: string };
  /** SQLite file for the seller's records (default: in memory — a restart then forgets used authorizations). */
  storePath?: string;
  description?: string;
  mimeType?: string;
  /** How long an authorization must stay valid (advertised; default 300 s). */
  maxTimeoutSeconds?: number;
  /** An authorization must stay valid this long past chain time at verify (default 30 s). */
  minValiditySeconds?: number;
};

/** What the handler may read about the payment (Hono: `c.get("payment")`). */
export type PaymentInfo = { scheme: "exact" | "verity"; payer?: Address; channelId?: `0x${string}`; amount: bigint };

/** A checked, reserved payment: `commit` after a successful handler, `release` otherwise. */
export type Admission = {
  info: PaymentInfo;
  /** Settles (x402) or records (voucher); the headers to add to the response. Throws a PaymentError. */
  commit(): Promise<Record<string, string>>;
  release(): Promise<void>;
};

export type Paywall = ReturnType<typeof createPaywall>;

const UPTO_MISSING = [
  { name: "Permit2", address: PERMIT2_ADDRESS },
  { name: "x402UptoPermit2Proxy", address: x402UptoPermit2ProxyAddress },
] as const;

export function createPaywall(options: PaywallOptions) {
  if (options.price === undefined && options.priceFn === undefined)
    throw new RangeError("price or priceFn is required");
  const network: Network = `eip155:${options.chain.chainId}`;
  const token = { ...options.token, address: getAddress(options.token.address) };
  const schemes = new Set<PaywallScheme>(
    options.schemes ?? ["exact", "upto", ...(options.verity ? ["verity" as const] : [])],
  );
  if (schemes.has("verity") && !options.verity) throw new RangeError("the verity scheme needs `verity` options");
  const store = createSellerStore(options.storePath === undefined ? {} : { path: options.storePath });
  const facilitator = createLocalFacilitator({ network, clients: options.chain, confirmationTimeoutMs: 60_000 });
  const server = new x402ResourceServer(new LocalFacilitatorClient(facilitator)).register(
    network,
    new ExactEvmScheme(),
  );
  const ready = server.initialize();
  ready.catch(() => {});
  const publicClient = options.chain.publicClient as PublicClient;
  const exact: ExactPayments = createExactPayments({
    network,
    token,
    payTo: getAddress(options.payTo),
    maxTimeoutSeconds: options.maxTimeoutSeconds ?? 300,
    minValiditySeconds: BigInt(options.minValiditySeconds ?? 30),
    server,
    publicClient,
    walletClient: options.chain.walletClient,
    guard: createAuthorizationGuard(store.authorizations),
    ready,
  });
  const vouchers =
    schemes.has("verity") && options.verity
      ? createVoucherSales({
          deployment: options.verity.deployment,
          publicClient,
          agentId: options.verity.agentId,
          modelId: options.verity.modelId,
          store,
          ...(options.verity.indexPath ? { indexPath: options.verity.indexPath } : {}),
        })
      : undefined;
  /** Which upto contracts this chain lacks (checked once). */
  const uptoMissing = (async () => {
    const missing: string[] = [];
    for (const c of UPTO_MISSING) {
      const code = await publicClient.getCode({ address: c.address });
      if (!code || code === "0x") missing.push(`${c.name} at ${c.address}`);
    }
    return missing;
  })();
  uptoMissing.catch(() => {});

  async function priceOf(request: Request): Promise<bigint> {
    const price = options.priceFn ? await options.priceFn(request) : (options.price as bigint);
    if (price <= 0n) throw new RangeError("a paywall price must be positive");
    return price;
  }

  const chargeOf = (request: Request, amount: bigint): X402Charge => ({
    resourceUrl: request.url,
    description: options.description ?? "A paid resource",
    amount,
    ...(options.mimeType ? { mimeType: options.mimeType } : {}),
  });

  /** The x402 PAYMENT-REQUIRED for this call: `exact` (upto joins it only where it can settle). */
  async function paymentRequired(charge: X402Charge, error?: string): Promise<PaymentRequired> {
    const accepts = schemes.has("exact") ? [await exact.requirementsFor(charge)] : [];
    const required = await server.createPaymentRequiredResponse(
      accepts,
      { url: charge.resourceUrl, description: charge.description, mimeType: charge.mimeType ?? "application/json" },
      error,
    );
    if (error === undefined) delete required.error;
    return required;
  }

  /** What the seller accepts besides x402: the Verity channel to open. */
  function verityTerms(price: bigint) {
    if (!vouchers || !options.verity) return undefined;
    const d = options.verity.deployment;
    return {
      chainId: d.chainId,
      paymentChannels: d.contracts.PaymentChannels.address,
      token: d.token.address,
      agentId: options.verity.agentId.toString(),
      modelId: options.verity.modelId.toString(),
      price: price.toString(),
      header: "Verity-Voucher",
    };
  }

  /** The HTTP answer for a refusal: a 402 carries fresh PAYMENT-REQUIRED and the accepts in its body. */
  async function refusal(error: unknown, charge: X402Charge): Promise<Response> {
    if (!(error instanceof BaseError)) throw error;
    const status = reasonStatus(error.code);
    const headers = new Headers({
      "content-type": "application/json",
      "cache-control": PAYMENT_REQUIRED_CACHE_CONTROL,
    });
    let body: Record<string, unknown> = error.toJSON();
    if (status === 402) {
      const required = await paymentRequired(charge, error.code);
      headers.set("PAYMENT-REQUIRED", encodePaymentRequiredHeader(required));
      const verity = verityTerms(charge.amount);
      body = { ...body, x402Version: required.x402Version, accepts: required.accepts, ...(verity ? { verity } : {}) };
    }
    return new Response(JSON.stringify(body), { status, headers });
  }

  /** The payment scheme and network a v2 header claims, undefined when undecodable (verify then says why). */
  function claimed(headers: Headers): { scheme?: string; network?: string } {
    const raw = headers.get("payment-signature") ?? headers.get("x-payment");
    if (!raw) return {};
    try {
      const d = decodePaymentSignatureHeader(raw.trim()) as { accepted?: { scheme?: string; network?: string } };
      return {
        ...(d.accepted?.scheme ? { scheme: d.accepted.scheme } : {}),
        ...(d.accepted?.network ? { network: d.accepted.network } : {}),
      };
    } catch {
      return {};
    }
  }

  async function admitX402(headers: HeaderSource & Headers, charge: X402Charge): Promise<Admission> {
    const { scheme, network: paidOn } = claimed(headers);
    if (paidOn !== undefined && paidOn !== network) {
      throw new PaymentError(`The x402 payment is for network ${paidOn}; this seller settles on ${network}`, {
        code: "x402_wrong_network",
        hint: `Pay on ${network} with the requirements in PAYMENT-REQUIRED`,
        details: { network: paidOn, expected: network },
      });
    }
    if (scheme !== undefined && (scheme !== "exact" || !schemes.has("exact"))) {
      const missing = scheme === "upto" && schemes.has("upto") ? await uptoMissing : [];
      throw new PaymentError(`This seller does not accept the x402 scheme ${scheme} here`, {
        code: "x402_scheme_unavailable",
        hint: "Pay with a scheme listed in PAYMENT-REQUIRED",
        details: { scheme, network, ...(missing.length > 0 ? { missing } : {}) },
      });
    }
    const verified: ExactVerified = await exact.verify(headers, charge);
    return {
      info: { scheme: "exact", payer: verified.payer, amount: verified.amount },
      async commit() {
        const settled = await exact.settle(verified);
        return { [settled.headerName]: settled.header };
      },
      release: () => exact.release(verified),
    };
  }

  async function admitVoucher(header: string, price: bigint): Promise<Admission> {
    if (!vouchers) throw new Error("unreachable: vouchers not configured");
    const sale: VoucherSale = await vouchers.authorize(header, price);
    const channelId = sale.reservation.channel.channelId;
    return {
      info: { scheme: "verity", payer: getAddress(sale.reservation.channel.payer), channelId, amount: price },
      async commit() {
        const { charged } = vouchers.commit(sale);
        return { [HEADERS.charged]: charged.toString() };
      },
      async release() {
        vouchers.release(sale);
      },
    };
  }

  /**
   * Checks and reserves the request's payment; a Response when it is refused (402 with what is
   * accepted when nothing was paid), an Admission otherwise.
   */
  async function admit(request: Request): Promise<Admission | Response> {
    const price = await priceOf(request);
    const charge = chargeOf(request, price);
    try {
      const voucher = request.headers.get(HEADERS.voucher);
      if (voucher && vouchers) return await admitVoucher(voucher, price);
      if (request.headers.get("payment-signature") || request.headers.get("x-payment")) {
        return await admitX402(request.headers, charge);
      }
      throw new PaymentError("This resource needs payment", {
        code: "x402_payment_required",
        hint: vouchers
          ? "Pay with x402 (PAYMENT-SIGNATURE) or a Verity voucher (Verity-Voucher) on a channel to this seller"
          : "Pay with x402: sign the PAYMENT-REQUIRED requirements and resend with PAYMENT-SIGNATURE",
      });
    } catch (error) {
      return refusal(error, charge);
    }
  }

  /** After the handler: commit on success (headers to add), else release; a Response when settling failed. */
  async function finish(
    admission: Admission,
    outcome: { ok: boolean; request: Request },
  ): Promise<{ headers: Record<string, string> } | Response> {
    if (!outcome.ok) {
      await admission.release();
      return { headers: {} };
    }
    try {
      return { headers: await admission.commit() };
    } catch (error) {
      return refusal(error, chargeOf(outcome.request, admission.info.amount));
    }
  }

  return {
    network,
    admit,
    finish,
    /** The x402 schemes this chain can settle now, with what `upto` lacks. */
    async capabilities(): Promise<{ schemes: PaywallScheme[]; uptoMissing: string[] }> {
      const missing = await uptoMissing;
      const ok = [...schemes].filter((s) => s !== "upto" || missing.length === 0);
      return { schemes: ok, uptoMissing: missing };
    },
    /** Claims every voucher-paid channel's charged total on chain (sent by `clients`, the agent's owner or wallet). */
    claim: (clients: Parameters<NonNullable<typeof vouchers>["claim"]>[0]) =>
      vouchers ? vouchers.claim(clients) : Promise.resolve(undefined),
    /** Withdraws the earnings claims credited to the agent (sent by `clients`, its owner, operator or wallet). */
    withdraw: (clients: Parameters<NonNullable<typeof vouchers>["withdraw"]>[0]) =>
      vouchers ? vouchers.withdraw(clients) : Promise.resolve(undefined),
    async stop(): Promise<void> {
      await vouchers?.stop();
      store.close();
    },
  };
}
