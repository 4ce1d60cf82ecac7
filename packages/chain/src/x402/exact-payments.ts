/**
 * The x402 `exact` scheme at the gateway: one EIP-3009 authorization pays one request, in full.
 *
 * `verify` checks the authorization without settling (signature, amount, payTo, asset, validity
 * window judged by chain time, nonce unused, balance — the facilitator simulates the transfer) and
 * records it durably in the settlement guard before it returns, so a concurrent or later request
 * with the same header is refused (`x402_payment_in_flight` / `x402_payment_replayed`) and a restart
 * does not forget it. `settle` submits `transferWithAuthorization` and waits for its receipt; a
 * settlement in doubt fails closed (`x402_settlement_pending`: the answer is withheld and the
 * authorization is never reused).
 */

import { PaymentError } from "@verity/core";
import { encodePaymentResponseHeader } from "@x402/core/http";
import type { x402ResourceServer } from "@x402/core/server";
import type { Network, PaymentPayload, PaymentRequirements, SettleResponse } from "@x402/core/types";
import type { Address, Hex, PublicClient, WalletClient } from "viem";
import { getAddress } from "viem";
import { diagnoseTransfer } from "./diagnose.ts";
import { type Eip3009Authorization, type HeaderSource, readPayment } from "./payment-header.ts";
import type { AuthorizationKey, SettlementGuard } from "./settlement-guard.ts";
import { mapVerifyReason, paymentRejected } from "./x402-reasons.ts";
import type { X402Charge, X402Settlement, X402Token } from "./x402-types.ts";

export type ExactVerified = {
  scheme: "exact";
  /** 2 for `PAYMENT-SIGNATURE`, 1 for `X-PAYMENT`. */
  version: 1 | 2;
  payer: Address;
  amount: bigint;
  nonce: Hex;
  validBefore: bigint;
  payload: PaymentPayload;
  requirements: PaymentRequirements;
  /** The authorization's record in the settlement guard (network, token, payer, nonce). */
  key: AuthorizationKey;
};

export type ExactPayments = {
  requirementsFor(charge: X402Charge): Promise<PaymentRequirements>;
  verify(headers: HeaderSource, charge: X402Charge): Promise<ExactVerified>;
  settle(verified: ExactVerified): Promise<X402Settlement>;
  release(verified: ExactVerified): Promise<void>;
};

export function createExactPayments(options: {
  network: Network;
  token: X402Token;
  payTo: Address;
  maxTimeoutSeconds: number;
  minValiditySeconds: bigint;
  server: x402ResourceServer;
  publicClient: PublicClient;
  walletClient: WalletClient;
  guard: SettlementGuard;
  /** Resolves once the resource server is initialised. */
  ready: Promise<unknown>;
}): ExactPayments {
  const {
    network,
    token,
    payTo,
    maxTimeoutSeconds,
    minValiditySeconds,
    server,
    publicClient,
    walletClient,
    guard,
    ready,
  } = options;
  // One wallet submits every settlement: without a viem nonce manager on its account, concurrent
  // submissions would race for the same account nonce, so settlements then go one at a time.
  const serialize = !(walletClient.account as { nonceManager?: unknown } | undefined)?.nonceManager;
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

  async function verify(headers: HeaderSource, charge: X402Charge): Promise<ExactVerified> {
    const requirements = await requirementsFor(charge);
    const { version, payload, authorization: auth } = readPayment(headers, requirements);
    checkTerms(payload, auth, requirements);
    const details = { payer: auth.from, nonce: auth.nonce };
    const key: AuthorizationKey = { network, token: token.address, payer: auth.from, nonce: auth.nonce };
    await refuseIfRecorded(guard, key);
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
    // The authorization is ours from here on, durably, before any work starts: one INSERT decides
    // between concurrent requests carrying it.
    if (!(await guard.reserve(key, BigInt(auth.value)))) {
      await refuseIfRecorded(guard, key);
      throw new Error("x402 reservation failed without a record");
    }
    return {
      scheme: "exact",
      key,
      version,
      payer: getAddress(auth.from),
      amount: BigInt(auth.value),
      nonce: auth.nonce as Hex,
      validBefore: BigInt(auth.validBefore),
      payload,
      requirements,
    };
  }

  async function submit(verified: ExactVerified): Promise<SettleResponse> {
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

  async function settle(verified: ExactVerified): Promise<X402Settlement> {
    const { payer, nonce, amount, key } = verified;
    if (!(await guard.beginSettlement(key))) {
      const record = await guard.get(key);
      throw paymentRejected(
        "This x402 payment was already sent for settlement",
        mapVerifyReason("invalid_exact_evm_nonce_already_used"),
        { payer, nonce, state: record?.state, transaction: record?.txHash },
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
      const auth = verified.payload.payload.authorization as Eip3009Authorization;
      if (response.errorReason === "settlement_pending") {
        // In doubt: the transfer was broadcast and may still land. Fail closed — the answer is
        // withheld, the authorization stays used here (never submitted again, never released), and
        // the payer is told not to pay again for it.
        await guard.pending(key, response.transaction || undefined);
        throw new PaymentError("The x402 settlement was sent but not confirmed in time", {
          code: "x402_settlement_pending",
          hint: "Do not pay again for this answer yet: the transaction may still land; check it on chain",
          details: { payer, nonce, ...(response.transaction ? { transaction: response.transaction } : {}) },
        });
      }
      const diagnosis = await diagnoseTransfer(publicClient, token.address, auth).catch(() => undefined);
      // A nonce consumed on chain by something else (the payer's cancelAuthorization) can never be
      // settled; any other failure left it unused, and no part of the answer was released.
      if (diagnosis === "invalid_exact_evm_nonce_already_used") await guard.voided(key);
      else await guard.release(key);
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
    await guard.settled(key, txHash);
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

  async function release(verified: ExactVerified): Promise<void> {
    if ((await guard.get(verified.key))?.state === "reserved") await guard.release(verified.key);
  }

  return { requirementsFor, verify, settle, release };
}

/**
 * Refuses an authorization the guard already knows: held by a live request of this gateway →
 * 409 `x402_payment_in_flight` (its answer is under way; paying again is not what the caller
 * wants); settled, cancelled, in doubt, or left reserved by a gateway that stopped → 402
 * `x402_payment_replayed` (x402: a spent payment is answered with fresh PAYMENT-REQUIRED).
 */
async function refuseIfRecorded(guard: SettlementGuard, key: AuthorizationKey): Promise<void> {
  const record = await guard.get(key);
  if (!record) return;
  const details = { payer: key.payer, nonce: key.nonce, state: record.state, transaction: record.txHash };
  if (guard.isLive(key)) {
    throw new PaymentError("This x402 payment is being used by another request", {
      code: "x402_payment_in_flight",
      hint: "Each x402 authorization pays for one request; sign a new one for another request",
      details,
    });
  }
  throw paymentRejected(
    "This x402 payment was already used",
    mapVerifyReason("invalid_exact_evm_nonce_already_used"),
    details,
  );
}
