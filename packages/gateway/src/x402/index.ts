export * from "@verity/chain/x402";
export * from "./batch-channel-storage.ts";
export * from "./payments.ts";
export * from "./respond.ts";
export * from "./settlement-guard.ts";
