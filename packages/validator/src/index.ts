export * from "./audit-verdict.ts";
export * from "./intake.ts";
export * from "./thresholds.ts";
export * from "./token-stats.ts";
