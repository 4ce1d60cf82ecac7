import { Hono } from "hono";
import { cors } from "hono/cors";
import type { EIP1193Provider } from "viem";
import { type Listening, listen } from "./listen.ts";

type JsonRpcRequest = { jsonrpc?: string; id?: string | number | null; method?: unknown; params?: unknown };

type ProviderFailure = { code?: unknown; message?: unknown; data?: unknown };

async function handleOne(provider: EIP1193Provider, request: JsonRpcRequest) {
  const id = request.id ?? null;
  if (typeof request.method !== "string") {
    return { jsonrpc: "2.0", id, error: { code: -32600, message: "Invalid request: method must be a string" } };
  }
  try {
    const result = await provider.request({
      method: request.method,
      params: (request.params ?? []) as never,
    } as never);
    return { jsonrpc: "2.0", id, result: result ?? null };
  } catch (error) {
    const failure = error as ProviderFailure;
    return {
      jsonrpc: "2.0",
      id,
      error: {
        code: typeof failure.code === "number" ? failure.code : -32603,
        message: typeof failure.message === "string" ? failure.message : String(error),
        ...(failure.data === undefined ? {} : { data: failure.data }),
      },
    };
  }
}

/**
 * Exposes an EIP-1193 provider (the embedded EDR chain) as an Ethereum JSON-RPC endpoint over HTTP,
 * with batches and CORS, so viem, cast, MetaMask and other processes can use it.
 */
export function createRpcServer(options: { provider: EIP1193Provider; host?: string; port?: number }) {
  const app = new Hono();
  app.use("*", cors());
  app.get("/", (c) => c.json({ jsonrpc: "2.0", hint: "POST JSON-RPC requests to this URL" }));
  app.post("/", async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return c.json({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } });
    }
    if (Array.isArray(body)) {
      if (body.length === 0)
        return c.json({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "Empty batch" } });
      const out = [];
      for (const item of body) out.push(await handleOne(options.provider, (item ?? {}) as JsonRpcRequest));
      return c.json(out);
    }
    return c.json(await handleOne(options.provider, (body ?? {}) as JsonRpcRequest));
  });
  let listening: Listening | undefined;
  return {
    app,
    get url(): string {
      if (!listening) throw new Error("RPC server not started");
      return listening.url;
    },
    async start(): Promise<string> {
      listening = await listen({
        fetch: app.fetch,
        ...(options.host === undefined ? {} : { host: options.host }),
        ...(options.port === undefined ? {} : { port: options.port }),
      });
      return listening.url;
    },
    async stop(): Promise<void> {
      await listening?.close();
      listening = undefined;
    },
  };
}
