// The drivers (PGlite, pg) load when a store is opened: import pglite-store.ts or postgres-store.ts
// directly for the backend-specific constructors.

export * from "./database-unreachable.ts";
export * from "./gateway-store.ts";
export * from "./migrate.ts";
export * from "./open-store.ts";
