export * from "./deployment.ts";
export * from "./errors.ts";
export * from "./reason-codes.ts";
