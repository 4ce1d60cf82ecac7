import type { ExplorerApiDeps } from "./explorer-api.ts";
import { datasetRows } from "./explorer-datasets.ts";
import { type OracleRequestRow, oracleRequests } from "./explorer-oracle.ts";
import {
  channelsOf,
  disputesFromEvents,
  type FeedEvent,
  feedEvents,
  modelRows,
  networkTotals,
  offerRows,
  providerRows,
  validatorRows,
} from "./explorer-queries.ts";
import type { RouteOffer } from "./routing-policy.ts";

/** Points of the front page's charts: 15 minutes of 10 s buckets. */
const CHART_POINTS = 90;
const FEED_EVENTS = 40;
/** How often provider health is sampled for uptime. */
const SAMPLE_MS = 2_000;

const ratio = (part: bigint, whole: bigint): number =>
  whole === 0n ? 0 : Number((part * 1_000_000n) / whole) / 1_000_000;
const minMax = (values: bigint[]) =>
  values.length === 0
    ? { min: null, max: null }
    : {
        min: values.reduce((a, b) => (a < b ? a : b)).toString(),
        max: values.reduce((a, b) => (a > b ? a : b)).toString(),
      };

/**
 * What the explorer shows, assembled from the indexer's projections (recomputed only when new
 * events arrive), the directory's live health and the gateway's traffic series. Also samples
 * provider health every 2 s for uptime and adds settled claims to the traffic series.
 */
export function createExplorerView(deps: Omit<ExplorerApiDeps, "streamIntervalMs">) {
  const { indexer, directory, traffic } = deps;
  const db = indexer.db;
  type ChainState = {
    totals: ReturnType<typeof networkTotals>;
    disputes: ReturnType<typeof disputesFromEvents>;
    providers: ReturnType<typeof providerRows>;
    offers: ReturnType<typeof offerRows>;
    models: ReturnType<typeof modelRows>;
    events: FeedEvent[];
  };
  let chain: ChainState | undefined;
  let oracle: OracleRequestRow[] | undefined;
  let memo: { at: number; value: ReturnType<typeof build> } | undefined;
  const chainState = (): ChainState => {
    if (!chain) {
      const disputes = disputesFromEvents(db);
      chain = {
        totals: networkTotals(db),
        disputes,
        providers: providerRows(db, disputes),
        offers: offerRows(db),
        models: modelRows(db),
        events: feedEvents(db, { limit: FEED_EVENTS }),
      };
    }
    return chain;
  };
  const unsubscribe = indexer.subscribe((events) => {
    chain = undefined;
    oracle = undefined;
    memo = undefined;
    for (const e of events) if (e.name === "Claimed") traffic.recordPaid(BigInt(String(e.args.increase ?? "0")));
  });

  const uptime = new Map<string, { up: number; total: number }>();
  const sample = () => {
    const healthy = new Map<string, boolean>();
    for (const o of directory.offers()) {
      const id = o.agentId.toString();
      healthy.set(id, (healthy.get(id) ?? false) || o.healthy);
    }
    for (const [id, up] of healthy) {
      const u = uptime.get(id) ?? { up: 0, total: 0 };
      u.total++;
      if (up) u.up++;
      uptime.set(id, u);
    }
  };
  sample();
  const sampler = setInterval(sample, SAMPLE_MS);
  sampler.unref();

  function providers(live: RouteOffer[]) {
    const { providers: rows, offers } = chainState();
    const served = traffic.totals().requests;
    const totalPaid = BigInt(chainState().totals.totalPaid);
    return rows.map((p) => {
      const mine = live.filter((o) => o.agentId.toString() === p.agentId);
      const t = traffic.agent(p.agentId);
      const u = uptime.get(p.agentId);
      const latencies = mine.map((o) => o.latencyMs);
      return {
        ...p,
        healthy: mine.some((o) => o.healthy),
        latencyMs: latencies.length > 0 ? Math.round(Math.min(...latencies)) : null,
        failureRate: mine.length > 0 ? Math.max(...mine.map((o) => o.failureRate)) : null,
        queueDepth: mine.reduce((s, o) => s + o.queueDepth, 0),
        uptime: u && u.total > 0 ? u.up / u.total : null,
        requests: t.requests,
        failed: t.failed,
        tokens: t.tokens,
        avgRequestMs: t.requests + t.failed > 0 ? Math.round(t.ms / (t.requests + t.failed)) : null,
        trafficShare: served === 0 ? 0 : t.requests / served,
        earningsShare: ratio(BigInt(p.settledVolume), totalPaid),
        offers: offers
          .filter((o) => o.agentId === p.agentId)
          .map((o) => {
            const l = mine.find((x) => x.offerId.toString() === o.offerId);
            return {
              offerId: o.offerId,
              model: o.model,
              modelId: o.modelId,
              inputPricePerMTok: o.inputPricePerMTok,
              outputPricePerMTok: o.outputPricePerMTok,
              maxOutputTokens: o.maxOutputTokens,
              url: o.endpoint,
              live: l !== undefined,
              healthy: l?.healthy ?? false,
              ...(l?.unhealthyReason ? { reason: l.unhealthyReason } : {}),
            };
          }),
      };
    });
  }

  function models(live: RouteOffer[]) {
    const state = chainState();
    const totalPaid = BigInt(state.totals.totalPaid);
    const served = traffic.totals().requests;
    return state.models.map((m) => {
      const serving = live.filter((o) => o.modelId.toString() === m.modelId);
      const t = traffic.model(m.name);
      const output = minMax(serving.map((o) => o.outputPricePerMTok));
      const input = minMax(serving.map((o) => o.inputPricePerMTok));
      return {
        ...m,
        providers: new Set(serving.map((o) => o.agentId.toString())).size,
        minOutputPricePerMTok: output.min,
        maxOutputPricePerMTok: output.max,
        minInputPricePerMTok: input.min,
        maxInputPricePerMTok: input.max,
        prices: serving.map((o) => ({
          agentId: o.agentId.toString(),
          inputPricePerMTok: o.inputPricePerMTok.toString(),
          outputPricePerMTok: o.outputPricePerMTok.toString(),
          healthy: o.healthy,
        })),
        requests: t.requests,
        tokens: t.tokens,
        requestShare: served === 0 ? 0 : t.requests / served,
        volumeShare: ratio(BigInt(m.settledVolume), totalPaid),
      };
    });
  }

  function build() {
    const state = chainState();
    const live = directory.offers();
    const totals = traffic.totals();
    const servedModels = [...new Set(live.map((o) => o.model))].sort();
    return {
      updatedAt: Date.now(),
      network: {
        providersOnline: new Set(live.filter((o) => o.healthy).map((o) => o.agentId.toString())).size,
        providers: new Set(live.map((o) => o.agentId.toString())).size,
        providersStaked: state.providers.length,
        engines: live.filter((o) => o.healthy).length,
        models: servedModels,
        modelsRegistered: state.models.length,
        ...traffic.rates(),
        requests: totals.requests,
        failed: totals.failed,
        tokens: totals.tokens,
        charged: totals.charged,
        trafficSince: totals.since,
        ...state.totals,
        disputesOpen: state.disputes.filter((d) => d.status === "open").length,
        disputes: state.disputes.length,
        indexedBlock: indexer.cursor().toString(),
        /** Chain time (unix s) as of the latest block, for "… ago" against event timestamps. */
        chainNow: indexer.chainNow(),
      },
      providers: providers(live),
      models: models(live),
      series: { stepMs: traffic.stepMs, points: traffic.points({ count: CHART_POINTS }) },
      events: state.events,
      disputes: [...state.disputes].reverse().slice(0, 20),
    };
  }

  return {
    /** The front page's snapshot (rebuilt at most once a second). */
    overview(): ReturnType<typeof build> {
      if (!memo || Date.now() - memo.at >= 1_000) memo = { at: Date.now(), value: build() };
      return memo.value;
    },
    /** One provider's page: its row, channels, events, disputes and traffic; undefined if not staked. */
    provider(agentId: string) {
      const row = this.overview().providers.find((p) => p.agentId === agentId);
      if (!row) return undefined;
      return {
        provider: row,
        channels: channelsOf(db, agentId, 50),
        events: feedEvents(db, { limit: 50, agentId }),
        disputes: chainState()
          .disputes.filter((d) => d.agentId === agentId)
          .reverse(),
        series: { stepMs: traffic.stepMs, points: traffic.points({ count: CHART_POINTS, agentId }) },
      };
    },
    disputes() {
      return [...chainState().disputes].reverse();
    },
    validators() {
      return validatorRows(db);
    },
    /** Every registered dataset with its credits and what claims paid it, per contributor. */
    datasets() {
      return datasetRows(db);
    },
    /** Every inference-oracle request, newest first (refolded only when new events arrive). */
    oracleRequests(): OracleRequestRow[] {
      oracle ??= oracleRequests(db);
      return oracle;
    },
    /** One oracle request by id, or undefined. */
    oracleRequest(requestId: string): OracleRequestRow | undefined {
      return oracleRequests(db, { requestId })[0];
    },
    events(filter: Parameters<typeof feedEvents>[1]): FeedEvent[] {
      return feedEvents(db, filter);
    },
    close(): void {
      clearInterval(sampler);
      unsubscribe();
    },
  };
}

export type ExplorerView = ReturnType<typeof createExplorerView>;
