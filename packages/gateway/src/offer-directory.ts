import type { Indexer } from "@verity/chain";
import type { HealthProber } from "./health-prober.ts";
import type { RouteOffer } from "./routing-policy.ts";

type OfferRow = {
  offer_id: string;
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

/**
 * The directory of live offers: active offers of staked, unpaused agents from the indexer's
 * projection, joined with model names and health. Rebuilt when offer, stake or model events
 * arrive; health is read live from the prober on every `offers()` call.
 */
export function createOfferDirectory(options: {
  indexer: Indexer;
  prober: HealthProber;
  reputation?: (agentId: bigint) => number;
  /** Tool-call quality 0…1 per agent as validators publish it (`/v1/providers/<id>/evidence`), when known. */
  toolCallScore?: (agentId: bigint) => number | undefined;
}) {
  const { indexer, prober } = options;
  const toolCalls = (agentId: bigint): { toolCallScore?: number } => {
    const score = options.toolCallScore?.(agentId);
    return score === undefined ? {} : { toolCallScore: score };
  };
  let rows: OfferRow[] = [];
  const load = () => {
    rows = indexer.db
      .prepare(
        `SELECT o.offer_id, o.agent_id, o.model_id, o.input_price_per_mtok, o.output_price_per_mtok, o.max_output_tokens,
                o.endpoint, m.name, s.bonded, s.paused
         FROM offers o LEFT JOIN models m ON m.model_id = o.model_id LEFT JOIN stakes s ON s.agent_id = o.agent_id
         WHERE o.active = 1`,
      )
      .all() as OfferRow[];
  };
  load();
  const unsubscribe = indexer.subscribe((events) => {
    if (events.some((e) => /^(Offer|Staked|Unbond|Withdrawn|Slashed|Model|OffersP|OffersU)/.test(e.name))) load();
  });

  return {
    /** Every live offer with current health (unstaked or paused agents are left out). */
    offers(): RouteOffer[] {
      const out: RouteOffer[] = [];
      for (const row of rows) {
        if (row.paused === 1 || BigInt(row.bonded ?? "0") === 0n) continue;
        const health = prober.get(row.endpoint);
        const input = BigInt(row.input_price_per_mtok);
        const output = BigInt(row.output_price_per_mtok);
        out.push({
          offerId: BigInt(row.offer_id),
          agentId: BigInt(row.agent_id),
          modelId: BigInt(row.model_id),
          model: row.name ?? `model-${row.model_id}`,
          url: row.endpoint,
          inputPricePerMTok: input,
          outputPricePerMTok: output,
          inputPrice: Number(input),
          outputPrice: Number(output),
          maxOutputTokens: Number(row.max_output_tokens),
          stake: BigInt(row.bonded ?? "0"),
          latencyMs: health.latencyMs,
          failureRate: health.failureRate,
          queueDepth: health.queueDepth,
          healthy: health.healthy,
          ...(health.reason ? { unhealthyReason: health.reason } : {}),
          ...(row.name && health.quantization[row.name] ? { quantization: health.quantization[row.name] } : {}),
          ...(health.dataCollection ? { dataCollection: health.dataCollection } : {}),
          latencySamples: health.latencySamples,
          throughputSamples: health.throughputSamples,
          reputation: options.reputation?.(BigInt(row.agent_id)) ?? 0.5,
          ...toolCalls(BigInt(row.agent_id)),
        });
      }
      return out;
    },
    /** Provider endpoints to probe. */
    endpoints(): string[] {
      return [...new Set(rows.map((r) => r.endpoint))];
    },
    /** Model names with at least one live offer. */
    models(): string[] {
      return [...new Set(this.offers().map((o) => o.model))].sort();
    },
    reload: load,
    close(): void {
      unsubscribe();
    },
  };
}

export type OfferDirectory = ReturnType<typeof createOfferDirectory>;
