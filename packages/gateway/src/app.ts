import { RequestError } from "@verity/core";
import { errorResponse } from "@verity/provider";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { type ChatRouteDeps, chatRoute } from "./chat-route.ts";
import { completionsRoute } from "./completions-route.ts";
import { mountExplorerStatic } from "./explorer-static.ts";
import type { AgentCard } from "./gateway-agent-card.ts";
import { mountKeyRoutes } from "./key-routes.ts";
import { percentile } from "./provider-preferences.ts";
import { mountQuoteRoute } from "./quote-route.ts";
import { recordTraffic } from "./traffic-recorder.ts";
import type { TrafficSeries } from "./traffic-series.ts";

export type GatewayAppDeps = ChatRouteDeps & {
  address: `0x${string}`;
  /** The GatewayDeposits contract: deposits through it (naming this gateway) fund API keys. */
  depositsContract: `0x${string}`;
  chainId: number;
  /** The host names sign-in messages for API keys must name (the gateway's public URL's). */
  domains: () => string[];
  /** Extra routes (the explorer's data API) mounted by the caller. */
  extend?: (app: Hono) => void;
  /** Counts every answered inference request (the explorer's traffic charts and rates). */
  traffic?: TrafficSeries;
  /** The gateway's signed Agent Card, when it holds an agent identity (else undefined: no card). */
  agentCard?: () => Promise<AgentCard> | undefined;
  /** Serve the explorer's built page (`distDir`, a Vite dist) at `/` and `/explorer/`; off when absent. */
  explorer?: { distDir: string } | false;
};

/**
 * The gateway's HTTP API: OpenAI-compatible front door, directory, quote, keys and balance, metrics;
 * then the caller's extra routes, and last the explorer page (so it never shadows an API path).
 */
export function createGatewayApp(deps: GatewayAppDeps) {
  const app = new Hono();
  const limit = bodyLimit({
    maxSize: 1024 * 1024,
    onError: (c) => errorResponse(c, new RequestError("The request body is too large", { code: "payload_too_large" })),
  });
  if (deps.traffic) {
    app.use("/v1/chat/completions", recordTraffic({ series: deps.traffic, route: "chat" }));
    app.use("/v1/completions", recordTraffic({ series: deps.traffic, route: "completions" }));
  }
  app.post("/v1/chat/completions", limit, chatRoute(deps));
  app.post("/v1/completions", limit, completionsRoute(deps));
  app.get("/v1/models", (c) =>
    c.json({
      object: "list",
      data: deps.directory.models().map((id) => ({ id, object: "model", created: 0, owned_by: "verity-network" })),
    }),
  );
  app.get("/v1/providers", (c) =>
    c.json({
      data: deps.directory.offers().map((o) => ({
        agentId: o.agentId.toString(),
        offerId: o.offerId.toString(),
        url: o.url,
        model: o.model,
        modelId: o.modelId.toString(),
        inputPricePerMTok: o.inputPricePerMTok.toString(),
        outputPricePerMTok: o.outputPricePerMTok.toString(),
        maxOutputTokens: o.maxOutputTokens,
        stake: o.stake.toString(),
        healthy: o.healthy,
        ...(o.unhealthyReason ? { reason: o.unhealthyReason } : {}),
        latencyMs: Math.round(o.latencyMs),
        failureRate: Math.round(o.failureRate * 1000) / 1000,
        queueDepth: o.queueDepth,
        // what `provider` preferences select on (quantizations, data_collection, sort)
        ...(o.quantization === undefined ? {} : { quantization: o.quantization }),
        ...(o.dataCollection === undefined ? {} : { dataCollection: o.dataCollection }),
        // the validator set's median tool-call score (requests with tools skip offers below 0.5)
        ...(o.toolCallScore === undefined ? {} : { toolCallScore: o.toolCallScore }),
        ...(percentile(o.throughputSamples, 0.5) === undefined
          ? {}
          : { throughputP50: Math.round(percentile(o.throughputSamples, 0.5) as number) }),
      })),
    }),
  );
  mountQuoteRoute(app, deps, limit);
  app.get("/.well-known/agent-card.json", async (c) => {
    const card = await deps.agentCard?.();
    if (!card) {
      return errorResponse(
        c,
        new RequestError("This gateway holds no agent identity and publishes no Agent Card", { code: "not_found" }),
      );
    }
    return c.json(card);
  });
  mountKeyRoutes(app, deps);
  app.get("/health", (c) =>
    c.json({
      status: "ok",
      providers: deps.directory.offers().filter((o) => o.healthy).length,
      address: deps.address,
      depositsContract: deps.depositsContract,
      chainId: deps.chainId,
      token: deps.token,
    }),
  );
  app.get("/metrics", async (c) => {
    c.header("Content-Type", deps.metrics.registry.contentType);
    return c.body(await deps.metrics.registry.metrics());
  });
  deps.extend?.(app);
  if (deps.explorer) mountExplorerStatic(app, { distDir: deps.explorer.distDir });
  app.notFound((c) =>
    errorResponse(c, new RequestError(`No route ${c.req.method} ${c.req.path}`, { code: "not_found" })),
  );
  app.onError((error, c) => errorResponse(c, error));
  return app;
}
