// The voucher gate lives in @verity/chain (shared with the SDK's seller middleware).
export { createPaymentGate, type PaymentGate, type PaymentGateOptions, type Reservation } from "@verity/chain";
