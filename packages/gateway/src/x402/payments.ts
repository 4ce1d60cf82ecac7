/**
 * x402 v2 payments for the gateway: keyless callers pay per request with an EIP-3009 authorization
 * of the deployment's token (scheme `exact`, network `eip155:<chainId>`).
 *
 * Built on the official packages: `x402ResourceServer` (requirements, matching, verify/settle
 * orchestration) with the `exact` EVM server scheme, over an in-process `x402Facilitator` with the
 * `exact` EVM facilitator scheme (see facilitator.ts) whose wallet pays the settlement gas. This file
 * only fills the gaps: our network and token domain, chain-time deadlines, Verity reason codes, and a
 * double-settlement guard.
 *
 * Flow per request: `paymentRequired` → 402 with `PAYMENT-REQUIRED`; the client resends with
 * `PAYMENT-SIGNATURE`; `verify` checks it without settling (signature, amount, payTo, asset, validity
 * window, nonce unused, balance — the facilitator simulates the transfer on chain); the caller does
 * the work; `settle` submits `transferWithAuthorization`, waits for the receipt and returns the
 * `PAYMENT-RESPONSE` header. The resource is released only after `settle` succeeded.
 *
 * Metering: only `exact` is advertised, so a metered call (chat completion) is charged its ceiling
 * (max tokens × price) — exact = maximum. @x402/evm 2.x ships an `upto` scheme (charge ≤ signed
 * maximum), but it is Permit2-based: it needs Uniswap's Permit2 at its canonical address and the
 * x402UptoPermit2Proxy at its CREATE2 address, neither of which exists on our chain (the package
 * ships their ABIs and addresses, not their bytecode), plus a one-time Permit2 approval per payer.
 * Until those are deployed, payers who want usage-based charging open a payment channel (vouchers).
 *
 * Latency ("don't block cheap responses on settlement"): `verify` already simulated the transfer, so
 * a caller may deliver a cheap response before `settle` confirms and settle in the background; the
 * exposure is one request's price per payer (a payer could drain the balance in between). The
 * default the tests pin down is the x402 norm: settle, then release.
 */
import type { DatabaseSync } from "node:sqlite";
import { PaymentError } from "@verity/core";
import { encodePaymentRequiredHeader, encodePaymentResponseHeader } from "@x402/core/http";
import { x402ResourceServer } from "@x402/core/server";
import type { Network, PaymentPayload, PaymentRequired, PaymentRequirements, SettleResponse } from "@x402/core/types";
import { ExactEvmScheme } from "@x402/evm/exact/server";
import { type Address, getAddress, type Hex } from "viem";
import { diagnoseTransfer } from "./diagnose.ts";
import { createLocalFacilitator, type FacilitatorClients, LocalFacilitatorClient } from "./facilitator.ts";
import { type Eip3009Authorization, type HeaderSource, readPayment } from "./payment-header.ts";
import { createSettlementGuard } from "./settlement-guard.ts";
import { mapVerifyReason, paymentRejected } from "./x402-reasons.ts";

export type X402Token = { address: Address; name: string; version: string; decimals: number };

export type X402PaymentsOptions = {
  chainId: number;
  /** The EIP-3009 token paid in; `name`/`version` are its EIP-712 domain (TestUSD: "Test USD", "1"). */
  token: X402Token;
  /** Recipient of every payment. */
  payTo: Address;
  /** The wallet that submits settlements (and pays their gas) plus a public client on the same chain. */
  facilitator: FacilitatorClients;
  /** How long a signed authorization must stay valid (advertised; default 300 s). */
  maxTimeoutSeconds?: number;
  /** An authorization must stay valid this long past the chain's time at verify (default 30 s). */
  minValiditySeconds?: number;
  /** Bound on each receipt wait during settlement (default 60 s). */
  confirmationTimeoutMs?: number;
  /** Optional SQLite database recording settled payments (table `x402_settlements`). */
  db?: DatabaseSync;
};

/** What one request costs: `amount` in the token's base units. */
export type X402Charge = { resourceUrl: string; description: string; amount: bigint; mimeType?: string };

export type X402PaymentRequired = {
  paymentRequired: PaymentRequired;
  /** Base64 value of the `PAYMENT-REQUIRED` response header. */
  header: string;
};

export type X402Verified = {
  /** 2 for `PAYMENT-SIGNATURE`, 1 for `X-PAYMENT`. */
  version: 1 | 2;
  payer: Address;
  amount: bigint;
  nonce: Hex;
  validBefore: bigint;
  payload: PaymentPayload;
  requirements: PaymentRequirements;
};

export type X402Settlement = {
  txHash: Hex;
  payer: Address;
  amount: bigint;
  network: Network;
  response: SettleResponse;
  /** `PAYMENT-RESPONSE` (v2) or `X-PAYMENT-RESPONSE` (v1). */
  headerName: "PAYMENT-RESPONSE" | "X-PAYMENT-RESPONSE";
  /** Base64 value of that header. */
  header: string;
};

export type X402Payments = {
  network: Network;
  paymentRequired(charge: X402Charge & { error?: string }): Promise<X402PaymentRequired>;
  verify(headers: HeaderSource, charge: X402Charge): Promise<X402Verified>;
  settle(verified: X402Verified): Promise<X402Settlement>;
};

export function createX402Payments(options: X402PaymentsOptions): X402Payments {
  const network: Network = `eip155:${options.chainId}`;
  const token = { ...options.token, address: getAddress(options.token.address) };
  const payTo = getAddress(options.payTo);
  const maxTimeoutSeconds = options.maxTimeoutSeconds ?? 300;
  const minValiditySeconds = BigInt(options.minValiditySeconds ?? 30);
  const { publicClient, walletClient } = options.facilitator;
  const facilitator = createLocalFacilitator({
    network,
    clients: options.facilitator,
    confirmationTimeoutMs: options.confirmationTimeoutMs ?? 60_000,
  });
  const server = new x402ResourceServer(new LocalFacilitatorClient(facilitator)).register(
    network,
    new ExactEvmScheme(),
  );
  const ready = server.initialize();
  ready.catch(() => {}); // surfaced by the first call that awaits it
  const guard = createSettlementGuard(options.db);
  // One wallet submits every settlement: without a viem nonce manager on its account, concurrent
  // submissions would race for the same account nonce, so settlements then go one at a time.
  const serialize = !(walletClient.account as { nonceManager?: unknown }).nonceManager;
  let queue: Promise<unknown> = Promise.resolve();

  async function requirementsFor(charge: X402Charge): Promise<PaymentRequirements> {
    if (charge.amount <= 0n) throw new RangeError("an x402 charge must be positive");
    await ready;
    const [requirements] = await server.buildPaymentRequirements({
      scheme: "exact",
      network,
      payTo,
      price: {
        asset: token.address,
        amount: charge.amount.toString(),
        extra: { name: token.name, version: token.version },
      },
      maxTimeoutSeconds,
    });
    if (!requirements) throw new Error(`no x402 requirements for exact on ${network}`);
    return requirements;
  }

  async function chainTime(): Promise<bigint> {
    return (await publicClient.getBlock({ blockTag: "latest" })).timestamp;
  }

  function checkTerms(payment: PaymentPayload, auth: Eip3009Authorization, requirements: PaymentRequirements): void {
    const amount = BigInt(requirements.amount);
    const details = { required: requirements.amount, authorized: auth.value, payer: auth.from };
    if (BigInt(auth.value) < amount || BigInt(payment.accepted.amount) < amount) {
      throw paymentRejected(
        `The x402 payment authorizes ${auth.value} but this request costs ${requirements.amount}`,
        { code: "x402_insufficient_amount", hint: "Pay the amount advertised in PAYMENT-REQUIRED" },
        details,
      );
    }
    if (!server.findMatchingRequirements([requirements], payment)) {
      throw paymentRejected(
        "The x402 payment accepted other terms than this request's (scheme, network, asset, payTo or amount)",
        mapVerifyReason(undefined),
        { ...details, accepted: payment.accepted },
      );
    }
  }

  async function verify(headers: HeaderSource, charge: X402Charge): Promise<X402Verified> {
    const requirements = await requirementsFor(charge);
    const { version, payload, authorization: auth } = readPayment(headers, requirements);
    checkTerms(payload, auth, requirements);
    const details = { payer: auth.from, nonce: auth.nonce };
    if (guard.isUsed(auth.from, auth.nonce)) {
      throw paymentRejected(
        "This x402 payment was already used",
        mapVerifyReason("invalid_exact_evm_nonce_already_used"),
        details,
      );
    }
    const [result, now] = await Promise.all([
      server.verifyPayment(payload, requirements).catch((cause: unknown) => {
        throw paymentRejected("The x402 payment could not be verified", mapVerifyReason(undefined), details, cause);
      }),
      chainTime(),
    ]);
    // Deadlines are judged by chain time (devnets jump ahead), with room left to settle after the work.
    if (BigInt(auth.validBefore) <= now + minValiditySeconds) {
      throw paymentRejected(
        `The x402 authorization expires at ${auth.validBefore}, too close to chain time ${now}`,
        mapVerifyReason("invalid_exact_evm_payload_authorization_valid_before"),
        { ...details, validBefore: auth.validBefore, chainTime: now.toString() },
      );
    }
    if (!result.isValid) {
      const reason = result.invalidReason?.endsWith("_simulation_failed")
        ? ((await diagnoseTransfer(publicClient, token.address, auth).catch(() => undefined)) ?? result.invalidReason)
        : result.invalidReason;
      throw paymentRejected(`The x402 payment did not verify (${reason ?? "no reason"})`, mapVerifyReason(reason), {
        ...details,
        reason,
        ...(result.invalidMessage ? { message: result.invalidMessage.slice(0, 500) } : {}),
      });
    }
    return {
      version,
      payer: getAddress(auth.from),
      amount: BigInt(auth.value),
      nonce: auth.nonce as Hex,
      validBefore: BigInt(auth.validBefore),
      payload,
      requirements,
    };
  }

  async function submit(verified: X402Verified): Promise<SettleResponse> {
    try {
      return await server.settlePayment(verified.payload, verified.requirements);
    } catch (cause) {
      return {
        success: false,
        errorReason: "settle_threw",
        errorMessage: cause instanceof Error ? cause.message : String(cause),
        transaction: "",
        network,
      };
    }
  }

  async function settle(verified: X402Verified): Promise<X402Settlement> {
    const { payer, nonce, amount } = verified;
    if (!guard.claim(payer, nonce)) {
      throw paymentRejected(
        "This x402 payment was already settled",
        mapVerifyReason("invalid_exact_evm_nonce_already_used"),
        { payer, nonce, transaction: guard.get(payer, nonce)?.txHash },
      );
    }
    let response: SettleResponse;
    if (serialize) {
      const run = queue.then(() => submit(verified));
      queue = run.catch(() => {});
      response = await run;
    } else {
      response = await submit(verified);
    }
    if (!response.success) {
      // A broadcast that may still land keeps its claim; anything else left the nonce unused.
      const pending = response.errorReason === "settlement_pending";
      if (!pending) guard.release(payer, nonce);
      const auth = verified.payload.payload.authorization as Eip3009Authorization;
      const diagnosis = pending ? undefined : await diagnoseTransfer(publicClient, token.address, auth).catch(() => {});
      throw new PaymentError(`Settling the x402 payment failed (${diagnosis ?? response.errorReason ?? "no reason"})`, {
        code: "x402_settlement_failed",
        hint: "Nothing was charged unless a transaction is reported; check the payer's balance and pay again",
        details: {
          payer,
          nonce,
          reason: response.errorReason,
          ...(diagnosis ? { diagnosis } : {}),
          ...(response.errorMessage ? { message: response.errorMessage.slice(0, 500) } : {}),
          ...(response.transaction ? { transaction: response.transaction } : {}),
        },
      });
    }
    const txHash = response.transaction as Hex;
    guard.settled({ payer, nonce, txHash, amount });
    return {
      txHash,
      payer,
      amount,
      network,
      response,
      headerName: verified.version === 1 ? "X-PAYMENT-RESPONSE" : "PAYMENT-RESPONSE",
      header: encodePaymentResponseHeader(response),
    };
  }

  async function paymentRequired(charge: X402Charge & { error?: string }): Promise<X402PaymentRequired> {
    const requirements = await requirementsFor(charge);
    const paymentRequired = await server.createPaymentRequiredResponse(
      [requirements],
      {
        url: charge.resourceUrl,
        description: charge.description,
        mimeType: charge.mimeType ?? "application/json",
      },
      charge.error,
    );
    if (charge.error === undefined) delete paymentRequired.error;
    return { paymentRequired, header: encodePaymentRequiredHeader(paymentRequired) };
  }

  return { network, paymentRequired, verify, settle };
}
