export * from "./facilitator.ts";
export * from "./payment-header.ts";
export * from "./payments.ts";
export * from "./respond.ts";
export * from "./settlement-guard.ts";
