/**
 * Maps the @x402/evm `exact` scheme's `invalidReason` / `errorReason` strings to Verity reason
 * codes, with a hint on what the payer can do. Unknown reasons are `x402_payment_invalid`.
 */
import { PaymentError, type ReasonCode } from "@verity/core";

type Mapped = { code: ReasonCode; hint: string };

const PAY_AGAIN = "Pay again with a fresh authorization for the advertised requirements";

const BY_LIBRARY_REASON: Record<string, Mapped> = {
  invalid_exact_evm_payload_authorization_valid_before: {
    code: "x402_payment_expired",
    hint: "Sign a new authorization whose validBefore is in the future (check the client clock)",
  },
  invalid_exact_evm_payload_authorization_valid_after: {
    code: "x402_payment_invalid",
    hint: "The authorization is not valid yet (validAfter is in the future); check the client clock",
  },
  invalid_exact_evm_insufficient_balance: {
    code: "x402_insufficient_funds",
    hint: "Fund the paying account with the advertised token",
  },
  permit2_insufficient_balance: {
    code: "x402_insufficient_funds",
    hint: "Fund the paying account with the advertised token",
  },
  invalid_exact_evm_nonce_already_used: {
    code: "x402_payment_replayed",
    hint: PAY_AGAIN,
  },
  invalid_exact_evm_signature: {
    code: "x402_payment_invalid",
    hint: "The signature does not match the authorization; sign it with the paying account",
  },
  invalid_exact_evm_recipient_mismatch: {
    code: "x402_payment_invalid",
    hint: "Pay the advertised payTo address",
  },
};

/** The Verity code for a library verification failure. */
export function mapVerifyReason(reason: string | undefined): Mapped {
  return (reason && BY_LIBRARY_REASON[reason]) || { code: "x402_payment_invalid", hint: PAY_AGAIN };
}

/** A PaymentError for a rejected payment, keeping the library's reason in the details. */
export function paymentRejected(
  message: string,
  mapped: Mapped,
  details: Record<string, unknown> = {},
  cause?: unknown,
): PaymentError {
  return new PaymentError(message, {
    code: mapped.code,
    hint: mapped.hint,
    details,
    ...(cause === undefined ? {} : { cause }),
  });
}
