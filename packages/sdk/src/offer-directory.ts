/**
 * Where live offers come from: the client's own indexer (a SQLite projection of the chain in the
 * state dir; health probed at each provider's `GET /health`), or a gateway's directory.
 *
 * Gateway directory: `GET {gatewayUrl}/v1/providers` answers
 * `{ data: [{ agentId, url, model, modelId, inputPricePerMTok, outputPricePerMTok, maxOutputTokens,
 * healthy }] }` — ids and prices as decimal strings (numbers are accepted), `url` the provider's
 * base URL (the client pays it directly), `healthy` the gateway's latest probe.
 */
import { createIndexer, type Indexer } from "@verity/chain";
import { type Deployment, RequestError } from "@verity/core";
import type { PublicClient } from "viem";
import { z } from "zod";
import type { PriceLimit } from "./openai-types.ts";

export type Offer = {
  agentId: bigint;
  modelId: bigint;
  /** The model's registered name (what requests put in `model`). */
  model: string;
  /** The provider's base URL (requests go to `${url}/v1/...`). */
  url: string;
  inputPricePerMTok: bigint;
  outputPricePerMTok: bigint;
  maxOutputTokens: number;
  healthy: boolean;
  /** The quantization the provider announces for the model (its `/health` `served[]`), when it does. */
  quantization?: string;
};

export type OfferQuery = { model?: string; maxPrice?: PriceLimit; quantization?: string };

export type OfferDirectory = {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Every live offer (healthy or not). */
  list(): Promise<Offer[]>;
};

const uint = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform((v) => BigInt(v));

/** The gateway's `GET /v1/providers` body. */
export const gatewayProvidersSchema = z.object({
  data: z.array(
    z.object({
      agentId: uint,
      url: z.url({ protocol: /^https?$/ }),
      model: z.string().min(1),
      modelId: uint,
      inputPricePerMTok: uint,
      outputPricePerMTok: uint,
      maxOutputTokens: uint.transform((v) => Number(v)),
      healthy: z.boolean(),
    }),
  ),
});

/** Offers matching `query`, cheapest first (input + output price). */
export function filterOffers(offers: readonly Offer[], query: OfferQuery = {}): Offer[] {
  const { model, maxPrice, quantization } = query;
  return offers
    .filter(
      (o) =>
        (model === undefined || o.model === model) &&
        (quantization === undefined || o.quantization === quantization) &&
        (maxPrice?.inputPerMTok === undefined || o.inputPricePerMTok <= maxPrice.inputPerMTok) &&
        (maxPrice?.outputPerMTok === undefined || o.outputPricePerMTok <= maxPrice.outputPerMTok),
    )
    .sort((a, b) => {
      const d = a.inputPricePerMTok + a.outputPricePerMTok - (b.inputPricePerMTok + b.outputPricePerMTok);
      return d < 0n ? -1 : d > 0n ? 1 : Number(a.agentId - b.agentId);
    });
}

/** Probes `GET {url}/health` (cached for `ttlMs`); a provider that does not answer 200 within the timeout is unhealthy. */
export function createHealthProbe(options: { fetch: typeof fetch; ttlMs?: number; timeoutMs?: number }) {
  const ttl = options.ttlMs ?? 15_000;
  type Probed = { healthy: boolean; quantization: Record<string, string> };
  const cache = new Map<string, Probed & { at: number; probing?: Promise<Probed> }>();
  async function probe(url: string): Promise<Probed> {
    try {
      const response = await options.fetch(`${url.replace(/\/$/, "")}/health`, {
        signal: AbortSignal.timeout(options.timeoutMs ?? 2_000),
      });
      const body = (await response.json().catch(() => ({}))) as { served?: unknown };
      const quantization: Record<string, string> = {};
      for (const s of Array.isArray(body.served)
        ? (body.served as { model?: unknown; quantization?: unknown }[])
        : []) {
        if (typeof s?.model === "string" && typeof s.quantization === "string") quantization[s.model] = s.quantization;
      }
      return { healthy: response.ok, quantization };
    } catch {
      return { healthy: false, quantization: {} };
    }
  }
  async function status(url: string): Promise<Probed> {
    const entry = cache.get(url);
    if (entry && Date.now() - entry.at < ttl) return entry;
    if (entry?.probing) return entry.probing;
    const probing = probe(url).then((probed) => {
      cache.set(url, { ...probed, at: Date.now() });
      return probed;
    });
    cache.set(url, { healthy: entry?.healthy ?? false, quantization: entry?.quantization ?? {}, at: 0, probing });
    return probing;
  }
  return {
    async healthy(url: string): Promise<boolean> {
      return (await status(url)).healthy;
    },
    /** Health plus the quantization per model the provider announces. */
    status,
    /** Forget a result (e.g. after a connection failure). */
    invalidate(url: string): void {
      cache.delete(url);
    },
  };
}

type OfferRow = {
  agent_id: string;
  model_id: string;
  input_price_per_mtok: string;
  output_price_per_mtok: string;
  max_output_tokens: string;
  endpoint: string;
  name: string | null;
  bonded: string | null;
  paused: number | null;
};

/** Offers from the client's own indexer: active offers of staked, unpaused agents, with probed health. */
export function createIndexerDirectory(options: {
  deployment: Deployment;
  publicClient: PublicClient;
  dbPath: string;
  fetch: typeof fetch;
  pollMs?: number;
  onError?: (error: unknown) => void;
}): OfferDirectory & { indexer: Indexer; invalidate(url: string): void } {
  const indexer = createIndexer({
    deployment: options.deployment,
    publicClient: options.publicClient,
    db: options.dbPath,
    pollMs: options.pollMs ?? 2_000,
    ...(options.onError ? { onError: options.onError } : {}),
  });
  const probe = createHealthProbe({ fetch: options.fetch });
  return {
    indexer,
    invalidate: probe.invalidate,
    async start() {
      await indexer.syncOnce();
      indexer.start();
    },
    async stop() {
      await indexer.stop();
      indexer.db.close();
    },
    async list() {
      const rows = indexer.db
        .prepare(
          `SELECT o.agent_id, o.model_id, o.input_price_per_mtok, o.output_price_per_mtok, o.max_output_tokens,
                  o.endpoint, m.name, s.bonded, s.paused
           FROM offers o LEFT JOIN models m ON m.model_id = o.model_id LEFT JOIN stakes s ON s.agent_id = o.agent_id
           WHERE o.active = 1`,
        )
        .all() as OfferRow[];
      const live = rows.filter((r) => r.paused !== 1 && BigInt(r.bonded ?? "0") > 0n);
      return Promise.all(
        live.map(async (r) => {
          const probed = await probe.status(r.endpoint);
          const model = r.name ?? `model-${r.model_id}`;
          const quantization = probed.quantization[model];
          return {
            agentId: BigInt(r.agent_id),
            modelId: BigInt(r.model_id),
            model,
            url: r.endpoint.replace(/\/$/, ""),
            inputPricePerMTok: BigInt(r.input_price_per_mtok),
            outputPricePerMTok: BigInt(r.output_price_per_mtok),
            maxOutputTokens: Number(r.max_output_tokens),
            healthy: probed.healthy,
            ...(quantization === undefined ? {} : { quantization }),
          };
        }),
      );
    },
  };
}

/** Offers from a gateway's `GET /v1/providers` (cached for `ttlMs`, default 5 s). */
export function createGatewayDirectory(options: { gatewayUrl: string; fetch: typeof fetch; ttlMs?: number }) {
  const base = options.gatewayUrl.replace(/\/$/, "");
  let cached: { offers: Offer[]; at: number } | undefined;
  return {
    async start() {},
    async stop() {},
    async list(): Promise<Offer[]> {
      if (cached && Date.now() - cached.at < (options.ttlMs ?? 5_000)) return cached.offers;
      let json: unknown;
      try {
        const response = await options.fetch(`${base}/v1/providers`, { signal: AbortSignal.timeout(5_000) });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        json = await response.json();
      } catch (cause) {
        throw new RequestError(`The gateway directory ${base}/v1/providers did not answer`, {
          code: "upstream_unreachable",
          hint: 'Check directory.gatewayUrl, or use directory: "indexer"',
          cause,
        });
      }
      const parsed = gatewayProvidersSchema.safeParse(json);
      if (!parsed.success) {
        throw new RequestError("The gateway directory's answer is not { data: [offer] }", {
          code: "upstream_error",
          details: { issue: parsed.error.issues[0]?.message },
        });
      }
      const offers = parsed.data.data.map((o) => ({ ...o, url: o.url.replace(/\/$/, "") }));
      cached = { offers, at: Date.now() };
      return offers;
    },
    invalidate(): void {
      cached = undefined;
    },
  } satisfies OfferDirectory & { invalidate(url: string): void };
}
