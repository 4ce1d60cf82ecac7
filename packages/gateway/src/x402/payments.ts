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
 * One authorization, one answer: `verify` records the authorization (EIP-3009 nonce per payer and
 * token) durably before it returns, so a concurrent or later request with the same header is refused
 * (`x402_payment_in_flight` / `x402_payment_replayed`) and a restart does not forget it. Callers
 * release nothing of the answer before `settle` confirmed the transfer (the chat stream settles at
 * its first token and holds the text until then); a settlement in doubt fails closed
 * (`x402_settlement_pending`: the answer is withheld and the authorization is never reused).
 */

import {
  acceptedScheme,
  BATCH_SCHEME,
  type BatchClaims,
  type BatchVerified,
  createBatchClaims,
  createBatchPayments,
  createExactPayments,
  createLocalFacilitator,
  decodePayment,
  type ExactVerified,
  type FacilitatorClients,
  type HeaderSource,
  LocalFacilitatorClient,
  mapVerifyReason,
  paymentRejected,
  type X402Charge,
  type X402Settlement,
  type X402Token,
} from "@verity/chain/x402";
import { encodePaymentRequiredHeader } from "@x402/core/http";
import { x402ResourceServer } from "@x402/core/server";
import type { Network, PaymentRequired, PaymentRequirements } from "@x402/core/types";
import { BATCH_SETTLEMENT_ADDRESS } from "@x402/evm";
import { BatchSettlementEvmScheme as BatchServerScheme } from "@x402/evm/batch-settlement/server";
import { ExactEvmScheme } from "@x402/evm/exact/server";
import { type Address, getAddress, type Hex } from "viem";
import type { GatewayStore } from "../store/index.ts";
import { createBatchChannelStorage } from "./batch-channel-storage.ts";
import { createSettlementGuard } from "./settlement-guard.ts";

export type { X402Charge, X402Settlement, X402Token };

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
  /** The gateway store recording authorizations and settled payments (default: in memory). */
  store?: GatewayStore;
  /**
   * Accept x402 `batch-settlement` (default: when the scheme's contract is deployed at its canonical
   * address on this chain). Claims run every `claimIntervalSeconds` (default 60) and sweep to
   * `payTo` every `settleIntervalSeconds` (default 300).
   */
  batchSettlement?: boolean | { claimIntervalSeconds?: number; settleIntervalSeconds?: number };
};

export type X402PaymentRequired = {
  paymentRequired: PaymentRequired;
  /** Base64 value of the `PAYMENT-REQUIRED` response header. */
  header: string;
};

/** A verified payment: an `exact` EIP-3009 authorization or a `batch-settlement` voucher. */
export type X402Verified = ExactVerified | BatchVerified;
export type { ExactVerified };

export type X402Payments = {
  network: Network;
  paymentRequired(charge: X402Charge & { error?: string }): Promise<X402PaymentRequired>;
  verify(headers: HeaderSource, charge: X402Charge): Promise<X402Verified>;
  /**
   * Charges a verified payment: an `exact` authorization in full; a batch-settlement voucher
   * `charge` (what the answer cost, at most its ceiling; default the ceiling).
   */
  settle(verified: X402Verified, charge?: bigint): Promise<X402Settlement>;
  /**
   * Gives a verified authorization back when its request delivered nothing and it was never sent
   * for settlement (no provider answered); a no-op once settlement started.
   */
  release(verified: X402Verified): Promise<void>;
  /** The batch-settlement claimer, when that scheme is accepted. */
  readonly batchClaims: BatchClaims | undefined;
  /** Stops background work (batch claims, after a last claim and sweep). */
  stop(): Promise<void>;
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
  const facilitatorClient = new LocalFacilitatorClient(facilitator);
  const batchScheme = new BatchServerScheme(payTo, {
    ...(options.store ? { storage: createBatchChannelStorage({ store: options.store }) } : {}),
  });
  const server = new x402ResourceServer(facilitatorClient)
    .register(network, new ExactEvmScheme())
    .register(network, batchScheme);
  const batch = createBatchPayments({ network, server, token, payTo, maxTimeoutSeconds });
  const batchWanted = options.batchSettlement ?? true;
  let batchClaims: BatchClaims | undefined;
  const ready = server.initialize().then(async () => {
    if (batchWanted === false) return false;
    const code = await publicClient.getCode({ address: BATCH_SETTLEMENT_ADDRESS });
    if (!code || code === "0x") return false;
    const intervals = typeof batchWanted === "object" ? batchWanted : {};
    batchClaims = createBatchClaims({
      scheme: batchScheme,
      facilitator: facilitatorClient,
      network,
      token: token.address,
      ...intervals,
    });
    batchClaims.start();
    return true;
  });
  const batchReady = ready;
  ready.catch(() => {}); // surfaced by the first call that awaits it
  const exact = createExactPayments({
    network,
    token,
    payTo,
    maxTimeoutSeconds,
    minValiditySeconds,
    server,
    publicClient,
    walletClient,
    guard: createSettlementGuard(options.store),
    ready,
  });

  /** Every scheme this request may be paid with: `exact`, and `batch-settlement` when accepted. */
  async function allRequirements(charge: X402Charge): Promise<PaymentRequirements[]> {
    const requirements = await exact.requirementsFor(charge);
    return (await batchReady) ? [requirements, await batch.requirementsFor(charge)] : [requirements];
  }

  async function verify(headers: HeaderSource, charge: X402Charge): Promise<X402Verified> {
    if (acceptedScheme(headers) === BATCH_SCHEME) {
      if (!(await batchReady)) {
        throw paymentRejected(
          "This gateway does not accept x402 batch-settlement on this chain",
          mapVerifyReason(undefined),
          {
            scheme: BATCH_SCHEME,
          },
        );
      }
      const { payload } = decodePayment(headers, undefined);
      return batch.verify(payload, charge, async () => [await exact.requirementsFor(charge)]);
    }
    return exact.verify(headers, charge);
  }

  async function settle(verified: X402Verified, charge?: bigint): Promise<X402Settlement> {
    if (verified.scheme === "exact") return exact.settle(verified);
    const settled = await batch.settle(verified, charge);
    return {
      ...(settled.txHash ? { txHash: settled.txHash as Hex } : {}),
      payer: verified.payer,
      amount: settled.amount,
      network,
      response: settled.response,
      headerName: "PAYMENT-RESPONSE",
      header: settled.header,
    };
  }

  async function paymentRequired(charge: X402Charge & { error?: string }): Promise<X402PaymentRequired> {
    const paymentRequired = await server.createPaymentRequiredResponse(
      await allRequirements(charge),
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

  async function release(verified: X402Verified): Promise<void> {
    if (verified.scheme === BATCH_SCHEME) return batch.release(verified);
    return exact.release(verified);
  }

  async function stop(): Promise<void> {
    await ready.catch(() => false);
    await batchClaims?.stop();
  }

  return {
    network,
    paymentRequired,
    verify,
    settle,
    release,
    stop,
    get batchClaims() {
      return batchClaims;
    },
  };
}
