import type { Indexer } from "@verity/chain";
import { RequestError } from "@verity/core";
import { errorResponse } from "@verity/provider";
import type { Context, Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import { createExplorerView, type ExplorerView } from "./explorer-view.ts";
import type { OfferDirectory } from "./offer-directory.ts";
import type { TrafficSeries } from "./traffic-series.ts";

export type ExplorerApiDeps = {
  indexer: Indexer;
  directory: OfferDirectory;
  traffic: TrafficSeries;
  chainId: number;
  token: { address: `0x${string}`; symbol: string; decimals: number };
  gateway: { address: `0x${string}`; feeBps: number };
  /** Protocol contract addresses by name. */
  contracts: Record<string, `0x${string}`>;
  /** Block explorer the page links transactions to (`<url>/tx/<hash>`); none → the page's own tx view. */
  blockExplorerUrl?: string;
  /** How often `/api/stream` pushes a snapshot (default 2 s). */
  streamIntervalMs?: number;
};

const limitSchema = (max: number, fallback: number) =>
  z.coerce.number().int().min(1).max(max).optional().default(fallback);
const eventsQuery = z.object({
  limit: limitSchema(500, 50),
  names: z
    .string()
    .regex(/^[A-Za-z]+(,[A-Za-z]+)*$/, "must be comma-separated event names")
    .optional()
    .transform((v) => v?.split(",")),
  agent: z.string().regex(/^\d+$/, "must be a decimal agent id").optional(),
});
const seriesQuery = z.object({
  minutes: z.coerce.number().int().min(1).max(60).optional().default(15),
  agent: z.string().regex(/^\d+$/, "must be a decimal agent id").optional(),
});
const oracleQuery = z.object({
  limit: limitSchema(100, 20),
  before: z
    .string()
    .regex(/^\d{1,78}$/, "must be a decimal request id")
    .optional(),
  status: z.enum(["requested", "answered", "challenged", "rejected", "finalized", "refunded"]).optional(),
  agent: z
    .string()
    .regex(/^\d{1,78}$/, "must be a decimal agent id")
    .optional(),
});
const requestParam = z.string().regex(/^\d{1,78}$/, "must be a decimal request id");
const agentParam = z.string().regex(/^\d{1,78}$/, "must be a decimal agent id");
const txParam = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "must be a 0x-prefixed 32-byte transaction hash")
  .transform((v) => v.toLowerCase());

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue?.path.length ? ` ${issue.path.join(".")}` : "";
    throw new RequestError(`Invalid ${what}${at}: ${issue?.message}`, { code: "invalid_request" });
  }
  return parsed.data;
}

const answer = (c: Context, produce: () => unknown) => {
  try {
    return c.json(produce() as object);
  } catch (error) {
    return errorResponse(c, error);
  }
};

/**
 * The explorer's data API, read from the gateway's indexer, its offer directory and health prober,
 * and its own traffic series. Amounts are decimal strings in payment-token base units.
 *
 * - `GET /api/overview` everything the front page shows; `GET /api/stream` the same as SSE
 *   (`event: overview`) every `streamIntervalMs`
 * - `GET /api/network`, `/api/providers`, `/api/providers/:agentId`, `/api/models`, `/api/disputes` (with
 *   the validator set), `/api/datasets`
 * - `GET /api/oracle?limit&before&status&agent` inference-oracle requests (`agent`: answered by it), newest first (`next`: the
 *   `before` of the next page), `/api/oracle/:requestId` one request
 * - `GET /api/events?limit&names&agent`, `/api/tx/:hash`, `/api/timeseries?minutes&agent`, `/api/config`
 */
export function mountExplorerApi(app: Hono, deps: ExplorerApiDeps): { close(): void; view: ExplorerView } {
  const view = createExplorerView(deps);
  const streams = new Set<() => void>();

  app.get("/api/config", (c) =>
    c.json({
      chainId: deps.chainId,
      token: deps.token,
      gateway: deps.gateway,
      blockExplorerUrl: deps.blockExplorerUrl ?? null,
      contracts: deps.contracts,
    }),
  );
  app.get("/api/overview", (c) => answer(c, () => view.overview()));
  app.get("/api/network", (c) => answer(c, () => view.overview().network));
  app.get("/api/providers", (c) => answer(c, () => ({ data: view.overview().providers })));
  app.get("/api/providers/:agentId", (c) =>
    answer(c, () => {
      const agentId = parse(agentParam, c.req.param("agentId"), "agent id");
      const detail = view.provider(agentId);
      if (!detail) {
        throw new RequestError(`No provider with agent id ${agentId}`, {
          code: "not_found",
          hint: "GET /api/providers lists the staked agents",
        });
      }
      return detail;
    }),
  );
  app.get("/api/models", (c) => answer(c, () => ({ data: view.overview().models })));
  app.get("/api/datasets", (c) => answer(c, () => ({ data: view.datasets() })));
  app.get("/api/oracle", (c) =>
    answer(c, () => {
      const q = parse(oracleQuery, c.req.query(), "query");
      const before = q.before === undefined ? undefined : BigInt(q.before);
      const matching = view
        .oracleRequests()
        .filter(
          (r) =>
            (q.status === undefined || r.status === q.status) &&
            (q.agent === undefined || r.answer?.agentId === BigInt(q.agent).toString()) &&
            (before === undefined || BigInt(r.requestId) < before),
        );
      const data = matching.slice(0, q.limit);
      const last = data.at(-1);
      return { data, total: matching.length, next: matching.length > q.limit && last ? last.requestId : null };
    }),
  );
  app.get("/api/oracle/:requestId", (c) =>
    answer(c, () => {
      const requestId = BigInt(parse(requestParam, c.req.param("requestId"), "request id")).toString();
      const row = view.oracleRequest(requestId);
      if (!row) {
        throw new RequestError(`No oracle request ${requestId}`, {
          code: "not_found",
          hint: "GET /api/oracle lists the inference oracle's requests, newest first",
        });
      }
      return row;
    }),
  );
  app.get("/api/disputes", (c) => answer(c, () => ({ data: view.disputes(), validators: view.validators() })));
  app.get("/api/events", (c) =>
    answer(c, () => {
      const q = parse(eventsQuery, c.req.query(), "query");
      return {
        data: view.events({
          limit: q.limit,
          ...(q.names ? { names: q.names } : {}),
          ...(q.agent ? { agentId: q.agent } : {}),
        }),
      };
    }),
  );
  app.get("/api/tx/:hash", (c) =>
    answer(c, () => {
      const hash = parse(txParam, c.req.param("hash"), "transaction hash");
      const events = view.events({ limit: 500, txHash: hash }).reverse();
      if (events.length === 0) {
        throw new RequestError(`No protocol event in transaction ${hash}`, {
          code: "not_found",
          hint: "The indexer keeps the protocol contracts' events; token transfers alone are not indexed",
        });
      }
      return { hash, block: events[0]?.block, timestamp: events[0]?.timestamp, events };
    }),
  );
  app.get("/api/timeseries", (c) =>
    answer(c, () => {
      const q = parse(seriesQuery, c.req.query(), "query");
      const count = (q.minutes * 60_000) / deps.traffic.stepMs;
      return {
        stepMs: deps.traffic.stepMs,
        ...(q.agent ? { agentId: q.agent } : {}),
        points: deps.traffic.points({ count, ...(q.agent ? { agentId: q.agent } : {}) }),
      };
    }),
  );
  app.get("/api/stream", (c) =>
    streamSSE(c, async (stream) => {
      let wake: (() => void) | undefined;
      let closed = false;
      const end = () => {
        closed = true;
        wake?.();
      };
      streams.add(end);
      stream.onAbort(end);
      try {
        for (let id = 0; !closed; id++) {
          await stream.writeSSE({ event: "overview", id: String(id), data: JSON.stringify(view.overview()) });
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, deps.streamIntervalMs ?? 2_000).unref();
          });
        }
      } finally {
        streams.delete(end);
      }
    }),
  );

  return {
    view,
    close(): void {
      for (const end of streams) end();
      view.close();
    },
  };
}
