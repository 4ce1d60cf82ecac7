import { RequestError } from "@verity/core";
import { Hono } from "hono";
import type { LocalAccount } from "viem";
import { createA2aExecutor } from "./a2a-executor.ts";
import { mountA2a } from "./a2a-route.ts";
import { createAgentCardSource } from "./agent-card.ts";
import { bodyLimitByLength } from "./body-limit.ts";
import { type CompletionsDeps, completionsHandler } from "./completions-route.ts";
import { errorResponse } from "./http-errors.ts";

export type ProviderAppDeps = CompletionsDeps & {
  /** Public base URL of this provider (for the registration file). */
  publicUrl: () => string;
  agentRegistry: `0x${string}`;
  name: string;
  /** The operator's promise about request data (also in `/health`). */
  dataCollection?: "allow" | "deny";
  startedAt: number;
  /** Largest accepted request body in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  health: () => Record<string, unknown>;
  /** Signs the A2A Agent Card: the agent's registered key (its owner account, or agent wallet). */
  account?: LocalAccount;
  /** A2A card text and per-task prices (handler agents). */
  agentCard?: {
    description?: string;
    skillDescription?: (model: import("./served-model.ts").ServedModel) => string;
    taskPrices?: ReadonlyMap<string, bigint>;
  };
};

/**
 * The provider's HTTP API: OpenAI-compatible completions, models, health, Prometheus metrics and
 * the ERC-8004 registration file.
 */
export function createProviderApp(deps: ProviderAppDeps) {
  const app = new Hono();
  const limit = bodyLimitByLength({
    maxSize: deps.maxBodyBytes ?? 1024 * 1024,
    onError: (c) =>
      errorResponse(
        c,
        new RequestError("The request body is too large", {
          code: "payload_too_large",
          hint: `Send at most ${deps.maxBodyBytes ?? 1024 * 1024} bytes`,
        }),
      ),
  });
  app.post("/v1/chat/completions", limit, completionsHandler(deps, "chat"));
  app.post("/v1/completions", limit, completionsHandler(deps, "text"));
  app.get("/v1/models", (c) =>
    c.json({
      object: "list",
      data: [...deps.models.values()].map((m) => ({
        id: m.name,
        object: "model",
        created: Math.floor(deps.startedAt / 1000),
        owned_by: `agent:${deps.agentId}`,
        verity: {
          modelId: m.modelId.toString(),
          weightsHash: m.engine.identity.weightsHash,
          tokenizerHash: m.engine.identity.tokenizerHash,
          contextSize: m.engine.contextSize,
          maxOutputTokens: m.maxOutputTokens,
          price: { inputPerMTok: m.price.inputPerMTok.toString(), outputPerMTok: m.price.outputPerMTok.toString() },
          ...(m.manifest ? { quantization: m.manifest.quantization, manifest: m.manifest } : {}),
          ...(m.health ? { upstream: m.health.state.up ? "up" : "down" } : {}),
        },
      })),
    }),
  );
  // llama.cpp-server-compatible tokenizer endpoints (used by the OpenAI-compatible upstream engine).
  app.post("/tokenize", limit, async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as { content?: unknown; model?: unknown };
    const model = typeof body.model === "string" ? deps.models.get(body.model) : deps.models.values().next().value;
    if (!model || typeof body.content !== "string") {
      return errorResponse(c, new RequestError("Send {content: string, model?: string}", { code: "invalid_request" }));
    }
    return c.json({ tokens: model.engine.tokenize(body.content) });
  });
  app.post("/detokenize", limit, async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as { tokens?: unknown; model?: unknown };
    const model = typeof body.model === "string" ? deps.models.get(body.model) : deps.models.values().next().value;
    if (
      !model ||
      !Array.isArray(body.tokens) ||
      !body.tokens.every((t) => Number.isInteger(t) && t >= 0 && t < model.engine.vocabSize)
    ) {
      return errorResponse(c, new RequestError("Send {tokens: number[], model?: string}", { code: "invalid_request" }));
    }
    return c.json({ content: model.engine.detokenize(body.tokens as number[]) });
  });
  // 503 while an upstream is down, so probers (gateways, SDK routers) stop choosing this provider.
  app.get("/health", (c) => {
    const health = { status: "ok", ...deps.health() };
    return c.json(health, health.status === "ok" ? 200 : 503);
  });
  app.get("/metrics", async (c) => {
    c.header("Content-Type", deps.metrics.registry.contentType);
    return c.body(await deps.metrics.registry.metrics());
  });
  app.get("/.well-known/agent-registration.json", (c) => {
    const base = deps.publicUrl();
    return c.json({
      type: "https://eips.ethereum.org/EIPS/eip-8004#registration-v1",
      name: deps.name,
      description: "Verity inference provider: OpenAI-compatible API, paid per request with payment-channel vouchers",
      services: [
        { name: "openai-compatible", endpoint: `${base}/v1`, version: "v1" },
        { name: "verity-provider", endpoint: base, version: "1" },
      ],
      x402Support: deps.x402?.offered === true,
      dataCollection: deps.dataCollection ?? "allow",
      active: true,
      registrations: [{ agentId: Number(deps.agentId), agentRegistry: `eip155:${deps.chainId}:${deps.agentRegistry}` }],
      supportedTrust: ["reputation", "crypto-economic"],
      offers: [...deps.models.values()].map((m) => ({
        model: m.name,
        modelId: m.modelId.toString(),
        inputPricePerMTok: m.price.inputPerMTok.toString(),
        outputPricePerMTok: m.price.outputPerMTok.toString(),
        maxOutputTokens: m.maxOutputTokens,
        ...(m.manifest ? { quantization: m.manifest.quantization, manifest: m.manifest } : {}),
        token: deps.token,
        paymentChannels: deps.paymentChannels,
      })),
    });
  });
  if (deps.account) {
    const account = deps.account;
    const card = createAgentCardSource({
      account,
      input: () => ({
        name: deps.name,
        description:
          deps.agentCard?.description ??
          "Verity inference provider: verified inference, paid per request with payment-channel vouchers",
        baseUrl: deps.publicUrl(),
        chainId: deps.chainId,
        agentId: deps.agentId,
        agentRegistry: deps.agentRegistry,
        paymentChannels: deps.paymentChannels,
        token: deps.token,
        models: [...deps.models.values()],
        x402: deps.x402?.offered === true,
        ...(deps.agentCard?.skillDescription ? { skillDescription: deps.agentCard.skillDescription } : {}),
        ...(deps.agentCard?.taskPrices ? { taskPrices: deps.agentCard.taskPrices } : {}),
      }),
    });
    mountA2a({
      app,
      card,
      limit,
      executor: createA2aExecutor({
        models: deps.models,
        internal: async (path, init) => app.request(path, init),
        ...(deps.agentCard?.taskPrices ? { taskPrices: deps.agentCard.taskPrices } : {}),
      }),
    });
  }
  app.notFound((c) =>
    errorResponse(
      c,
      new RequestError(`No route ${c.req.method} ${c.req.path}`, { code: "not_found", hint: "See GET /v1/models" }),
    ),
  );
  app.onError((error, c) => errorResponse(c, error));
  return app;
}
