import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { ConfigError } from "@verity/core";

export type Listening = {
  /** Base URL, e.g. `http://127.0.0.1:8545`. */
  url: string;
  port: number;
  close(): Promise<void>;
};

/**
 * Serves a fetch handler (a Hono app's `fetch`) over HTTP on `host:port` (port 0 picks a free one).
 * A port already in use fails with reason `port_in_use` instead of crashing later.
 */
export function listen(options: {
  fetch: (request: Request) => Response | Promise<Response>;
  host?: string;
  port?: number;
}): Promise<Listening> {
  const host = options.host ?? "127.0.0.1";
  const server = createAdaptorServer({ fetch: options.fetch, hostname: host });
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") {
        reject(
          new ConfigError(`Port ${options.port} on ${host} is already in use`, {
            code: "port_in_use",
            hint: "Stop the process using it or pick another port",
            details: { host, port: options.port },
          }),
        );
      } else reject(error);
    });
    server.listen(options.port ?? 0, host, () => {
      const port = (server.address() as AddressInfo).port;
      const sockets = new Set<import("node:net").Socket>();
      server.on("connection", (socket) => {
        sockets.add(socket);
        socket.once("close", () => sockets.delete(socket));
      });
      resolve({
        url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
        port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            if ("closeIdleConnections" in server) server.closeIdleConnections();
            setTimeout(() => {
              for (const socket of sockets) socket.destroy();
            }, 2_000).unref();
          }),
      });
    });
  });
}
