/**
 * The validator's HTTP API: audit intake (`POST /v1/audits`, persisted before 202), audit records,
 * dispute evidence by hash (the exact bytes the on-chain hash commits to), this validator's
 * disputes, per-provider pooled evidence and tool-call quality, health with compute accounting, Prometheus metrics and the ERC-8004 registration file.
 */
import { BaseError, RequestError } from "@verity/core";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AuditRecord, AuditStore } from "./audit-store.ts";
import type { DisputeRecord, DisputeStore } from "./dispute-store.ts";
import type { ValidatorMetrics } from "./metrics.ts";
import type { ProviderEvidence } from "./provider-evidence.ts";
import type { SprtParams } from "./sprt.ts";
import { toolCallFeedback } from "./tool-call-feedback.ts";
import { validatorReasonStatus } from "./validator-reasons.ts";

export type ValidatorAppDeps = {
  audits: AuditStore;
  disputes: DisputeStore;
  metrics: ValidatorMetrics;
  /** Per-provider pooled test and tool-call quality (`GET /v1/providers/:agentId/evidence`). */
  providerEvidence?: ProviderEvidence;
  sprt?: SprtParams;
  /** This validator's public base URL (feedback URIs). */
  publicUrl?: () => string;
  /** Checks and queues a sample; returns the record and whether it was new. */
  admit: (body: unknown) => Promise<{ record: AuditRecord; created: boolean }>;
  health: () => Record<string, unknown>;
  registration: () => Record<string, unknown>;
  /** Largest accepted sample in bytes (default 8 MiB). */
  maxBodyBytes?: number;
};

/** JSON error body with the reason code's status. */
export function errorResponse(c: Context, error: unknown): Response {
  if (error instanceof BaseError) {
    if (error.code === "rate_limited") c.header("Retry-After", String(error.details.retryAfterSeconds ?? 30));
    return c.json(error.toJSON(), validatorReasonStatus(error.code) as 400);
  }
  return c.json(
    {
      error: {
        code: "internal_error",
        message: "Internal error",
        hint: "Retry; if it persists, report it to the validator",
      },
    },
    500,
  );
}

const HASH = /^0x[0-9a-fA-F]{64}$/;

/** A dispute as shown to anyone: a member's vote, salt and reasons stay private until revealed. */
function publicView(d: DisputeRecord): DisputeRecord {
  const secret = d.role === "member" && d.status === "open" && d.duty !== "revealed";
  return secret ? { ...d, guilty: null, salt: null, reason: null } : d;
}

export function createValidatorApp(deps: ValidatorAppDeps) {
  const app = new Hono();
  const maxBytes = deps.maxBodyBytes ?? 8 * 1024 * 1024;
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: (c) => {
      deps.metrics.intake.inc({ outcome: "payload_too_large" });
      return errorResponse(
        c,
        new RequestError("The audit sample is too large", {
          code: "payload_too_large",
          hint: `Send at most ${maxBytes} bytes`,
        }),
      );
    },
  });

  app.post("/v1/audits", limit, async (c) => {
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch {
      deps.metrics.intake.inc({ outcome: "invalid_json" });
      return errorResponse(c, new RequestError("The request body is not valid JSON", { code: "invalid_json" }));
    }
    try {
      const { record, created } = await deps.admit(body);
      deps.metrics.intake.inc({ outcome: created ? "queued" : "duplicate" });
      return created ? c.json({ id: record.id, status: record.status }, 202) : c.json(record, 200);
    } catch (error) {
      deps.metrics.intake.inc({ outcome: error instanceof BaseError ? error.code : "internal_error" });
      return errorResponse(c, error);
    }
  });
  app.get("/v1/audits", (c) => {
    const status = c.req.query("status");
    const statuses = ["queued", "passed", "failed", "error"] as const;
    const wanted = statuses.find((s) => s === status);
    if (status !== undefined && !wanted) {
      return errorResponse(
        c,
        new RequestError("Unknown status filter", {
          code: "invalid_request",
          hint: `Use one of ${statuses.join(", ")}`,
        }),
      );
    }
    return c.json({
      data: deps.audits.list({
        limit: Number(c.req.query("limit") ?? 100) || 100,
        ...(wanted ? { status: wanted } : {}),
      }),
    });
  });
  app.get("/v1/audits/:id", (c) => {
    const id = c.req.param("id");
    const record = HASH.test(id) ? deps.audits.get(id) : undefined;
    if (!record) {
      return errorResponse(
        c,
        new RequestError(`No audit ${id}`, { code: "not_found", hint: "Audit ids are the receipt's EIP-712 digest" }),
      );
    }
    return c.json(record);
  });
  app.get("/v1/evidence/:hash", (c) => {
    const hash = c.req.param("hash");
    const body = HASH.test(hash) ? deps.audits.evidence(hash) : undefined;
    if (body === undefined) return errorResponse(c, new RequestError(`No evidence ${hash}`, { code: "not_found" }));
    return c.body(body, 200, {
      "Content-Type": "application/json",
      "Cache-Control": "public, max-age=31536000, immutable",
    });
  });
  app.get("/v1/providers/:agentId/evidence", (c) => {
    const agentId = c.req.param("agentId");
    const store = deps.providerEvidence;
    if (!store || !deps.sprt || !/^\d{1,78}$/.test(agentId)) {
      return errorResponse(c, new RequestError(`No evidence for provider ${agentId}`, { code: "not_found" }));
    }
    const state = store.state(agentId, deps.sprt);
    const log = c.req.query("log") === "1" ? { log: store.log(agentId) } : {};
    const toolCalls = store.toolCalls(agentId);
    const feedback = toolCallFeedback({
      agentId,
      calls: toolCalls.calls,
      valid: toolCalls.valid,
      publicUrl: deps.publicUrl?.() ?? "",
    });
    return c.json({
      agentId,
      pooled: state,
      toolCalls,
      /** ERC-8004 `giveFeedback` arguments for the tool-call score (null before any scored call). */
      feedback: feedback && { ...feedback, agentId: feedback.agentId.toString(), value: feedback.value.toString() },
      challenges: store.challenges(agentId),
      ...log,
    });
  });
  app.get("/v1/disputes", (c) =>
    c.json({ data: deps.disputes.list(Number(c.req.query("limit") ?? 100) || 100).map(publicView) }),
  );
  app.get("/health", (c) => c.json({ status: "ok", ...deps.health() }));
  app.get("/metrics", async (c) => {
    c.header("Content-Type", deps.metrics.registry.contentType);
    return c.body(await deps.metrics.registry.metrics());
  });
  app.get("/.well-known/agent-registration.json", (c) => c.json(deps.registration()));
  app.notFound((c) =>
    errorResponse(c, new RequestError(`No route ${c.req.method} ${c.req.path}`, { code: "not_found" })),
  );
  app.onError((error, c) => errorResponse(c, error));
  return app;
}
