export * from "./voucher-fetch.ts";
