export * from "./channel-id.ts";
export * from "./deployment.ts";
export * from "./errors.ts";
export * from "./reason-codes.ts";
export * from "./voucher.ts";
