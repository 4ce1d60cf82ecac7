export * from "./channel-id.ts";
export * from "./deployment.ts";
export * from "./errors.ts";
export * from "./pricing.ts";
export * from "./reason-codes.ts";
export * from "./receipt.ts";
export * from "./voucher.ts";
export * from "./voucher-header.ts";
