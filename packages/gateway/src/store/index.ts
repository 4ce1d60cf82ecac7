export * from "./gateway-store.ts";
export * from "./migrate.ts";
export * from "./open-store.ts";
export * from "./pglite-store.ts";
export * from "./postgres-store.ts";
