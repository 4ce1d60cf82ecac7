// x402 over Verity's chain access, shared by the gateway's door, the provider's and the SDK's seller middleware:
// the in-process facilitator (exact + batch-settlement), exact payments with their authorization guard, the
// batch-settlement payments and claims, payment headers, reason mapping.
export * from "./batch-claims.ts";
export * from "./batch-payments.ts";
export * from "./diagnose.ts";
export * from "./exact-payments.ts";
export * from "./facilitator.ts";
export * from "./payment-header.ts";
export * from "./payment-required-error.ts";
export * from "./settlement-guard.ts";
export * from "./x402-reasons.ts";
export * from "./x402-types.ts";
