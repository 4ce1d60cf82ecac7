// x402 over Verity's chain access, shared by the gateway's door and the provider's: the in-process
// facilitator (exact + batch-settlement), the batch-settlement payments and claims, reason mapping.
export * from "./batch-claims.ts";
export * from "./batch-payments.ts";
export * from "./facilitator.ts";
export * from "./payment-required-error.ts";
export * from "./x402-reasons.ts";
