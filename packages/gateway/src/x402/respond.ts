/**
 * HTTP answers for x402 failures, shared by every paid route: a rejected payment is a 402 with the
 * Verity error body and a fresh `PAYMENT-REQUIRED` header (its `error` field carries the reason
 * code, so an x402 client can pay again); a failed settlement is a 502 without the resource.
 */

import { PaymentRequiredError } from "@verity/chain/x402";
import { BaseError, reasonStatus } from "@verity/core";
import { PAYMENT_REQUIRED_CACHE_CONTROL } from "@x402/core/server";
import type { X402Charge, X402Payments } from "./payments.ts";

/** The Response for an error thrown by `verify` or `settle` (any other error is rethrown). */
export async function x402ErrorResponse(payments: X402Payments, charge: X402Charge, error: unknown): Promise<Response> {
  if (!(error instanceof BaseError)) throw error;
  const status = reasonStatus(error.code);
  const headers = new Headers({ "content-type": "application/json", "cache-control": PAYMENT_REQUIRED_CACHE_CONTROL });
  if (error instanceof PaymentRequiredError) {
    // Its own PAYMENT-REQUIRED: e.g. a batch-settlement channel's state for the client to resync from.
    headers.set("PAYMENT-REQUIRED", error.header);
  } else if (status === 402) {
    const required = await payments.paymentRequired({ ...charge, error: error.code });
    headers.set("PAYMENT-REQUIRED", required.header);
  }
  return new Response(JSON.stringify(error.toJSON()), { status, headers });
}
