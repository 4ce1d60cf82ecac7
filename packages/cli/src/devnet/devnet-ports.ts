import { BaseError, ConfigError } from "@verity/core";

export type DevnetPorts = {
  chain: number;
  gateway: number;
  /** Provider i listens on `providerBase + 10 + i`; undefined: free ports. */
  providerBase: number | undefined;
};

/**
 * Where each devnet service listens. `--port-base B`: chain on B, gateway on B+1, providers from
 * B+10, validators from B+20. Otherwise the chain on `--port` (8545), the gateway on the next port and providers and validators
 * on free ports; port 0 picks free ports for everything.
 */
export function devnetPorts(options: { port?: number; portBase?: number }): DevnetPorts {
  if (options.portBase !== undefined) {
    const base = options.portBase;
    return { chain: base, gateway: base === 0 ? 0 : base + 1, providerBase: base === 0 ? undefined : base };
  }
  const chain = options.port ?? 8545;
  return { chain, gateway: chain === 0 ? 0 : chain + 1, providerBase: undefined };
}

/** Runs `fn`; a port clash becomes one `port_in_use` line naming the port and the way out. */
export async function withPortHint<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (!(error instanceof BaseError) || error.code !== "port_in_use") throw error;
    const port = error.details.port ?? "?";
    const host = error.details.host ?? "127.0.0.1";
    throw new ConfigError(`Port ${port} on ${host} (${what}) is already in use`, {
      code: "port_in_use",
      hint: "Pass --port-base <port> to move the devnet (chain on it, gateway on +1, providers from +10, validators from +20), or stop the process using it",
      details: { port, host, service: what },
      cause: error,
    });
  }
}
