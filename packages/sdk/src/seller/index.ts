export * from "./express.ts";
export * from "./hono.ts";
export * from "./paywall.ts";
export * from "./seller-store.ts";
export * from "./voucher-sales.ts";
