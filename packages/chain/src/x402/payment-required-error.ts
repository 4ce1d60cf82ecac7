/**
 * A 402 that carries x402's `PAYMENT-REQUIRED` header: the keyless request without payment
 * (`x402_payment_required`), or a batch-settlement voucher whose cumulative base is stale
 * (`x402_channel_state_mismatch`, the header then carries the channel state to resync from).
 */
import { PaymentError, type ReasonCode } from "@verity/core";

export class PaymentRequiredError extends PaymentError {
  readonly header: string;
  readonly body: unknown;
  constructor(header: string, body: unknown, reason?: { message: string; code: ReasonCode; hint: string }) {
    super(reason?.message ?? "This request needs payment", {
      code: reason?.code ?? "x402_payment_required",
      hint: reason?.hint ?? "Pay with x402 (PAYMENT-SIGNATURE) or use an API key",
    });
    this.header = header;
    this.body = body;
  }
}
