/**
 * A2A v1.0 over JSON-RPC on Hono: `POST /a2a` served by `@a2a-js/sdk`'s framework-agnostic
 * `JsonRpcTransportHandler` and `DefaultRequestHandler` (streaming answers as SSE), and the signed
 * Agent Card at `/.well-known/agent-card.json`.
 */
import {
  A2A_VERSION_HEADER,
  type AgentCard,
  Extensions,
  formatSSEErrorEvent,
  formatSSEEvent,
  HTTP_EXTENSION_HEADER,
  SSE_HEADERS,
} from "@a2a-js/sdk";
import {
  type AgentExecutor,
  DefaultRequestHandler,
  InMemoryTaskStore,
  JsonRpcTransportHandler,
  ServerCallContext,
  validateVersion,
} from "@a2a-js/sdk/server";
import type { Hono, MiddlewareHandler } from "hono";
import { A2A_PATH } from "./agent-card.ts";

export function mountA2a(args: {
  app: Hono;
  card: () => Promise<AgentCard>;
  executor: AgentExecutor;
  limit: MiddlewareHandler;
}): void {
  let handler: Promise<JsonRpcTransportHandler> | undefined;
  const transport = () => {
    handler ??= args
      .card()
      .then(
        (card) => new JsonRpcTransportHandler(new DefaultRequestHandler(card, new InMemoryTaskStore(), args.executor)),
      );
    return handler;
  };
  args.app.get("/.well-known/agent-card.json", async (c) => c.json(await args.card()));
  args.app.post(A2A_PATH, args.limit, async (c) => {
    const body = await c.req.text();
    const requestedVersion = c.req.header(A2A_VERSION_HEADER) ?? "1.0";
    const context = new ServerCallContext({
      requestedVersion,
      requestedExtensions: Extensions.parseServiceParameter(c.req.header(HTTP_EXTENSION_HEADER)),
    });
    let id: unknown = null;
    try {
      id = (JSON.parse(body) as { id?: unknown }).id ?? null;
    } catch {}
    try {
      validateVersion(context.requestedVersion, await args.card(), "JSONRPC");
    } catch (error) {
      return c.json({ jsonrpc: "2.0", id, error: JsonRpcTransportHandler.mapToJSONRPCError(error) });
    }
    const result = await (await transport()).handle(body, context);
    if (typeof (result as AsyncIterable<unknown>)[Symbol.asyncIterator] !== "function") return c.json(result as object);
    const stream = result as AsyncGenerator<unknown>;
    const encoder = new TextEncoder();
    const readable = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const next = await stream.next();
          if (next.done) controller.close();
          else controller.enqueue(encoder.encode(formatSSEEvent(next.value)));
        } catch (error) {
          controller.enqueue(
            encoder.encode(
              formatSSEErrorEvent({ jsonrpc: "2.0", id, error: JsonRpcTransportHandler.mapToJSONRPCError(error) }),
            ),
          );
          controller.close();
        }
      },
      async cancel() {
        await stream.return(undefined);
      },
    });
    return new Response(readable, { headers: SSE_HEADERS });
  });
}
