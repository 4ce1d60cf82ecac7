import type { Overview } from "../api-types.ts";
import { earningsChart, spanOf, trafficChart, visible } from "../charts.ts";
import { DisputeCards } from "../components/disputes-table.tsx";
import { EventFeed } from "../components/event-feed.tsx";
import { EmptyState, Panel } from "../components/panel.tsx";
import { PriceStrip } from "../components/price-strip.tsx";
import { ProvidersTable } from "../components/providers-table.tsx";
import { Settlement } from "../components/settlement.tsx";
import { ShareBars, type ShareRow } from "../components/share-bars.tsx";
import { StatCard } from "../components/stat-card.tsx";
import { TimeChart } from "../components/time-chart.tsx";
import { useExplorer } from "../context.ts";
import { formatAmount, formatAmountCompact, formatCompact, formatNumber } from "../format.ts";
import { href } from "../router.ts";

/** Bookkeeping events left out of the front page's feed (the Activity page shows them). */
const QUIET = new Set(["Transfer", "MetadataSet", "MetadataUpdate", "DisputesBound", "URIUpdated"]);

const rate = (v: number) => (v < 10 ? v.toFixed(v === 0 ? 0 : 1) : formatCompact(Math.round(v)));

export function NoTraffic() {
  return (
    <EmptyState title="No traffic yet">
      Run <code>verity devnet --traffic</code>, or send a request to <code>/v1/chat/completions</code> with any OpenAI
      client.
    </EmptyState>
  );
}

export function NoProviders() {
  return (
    <EmptyState title="No provider has staked yet">
      Start one with <code>verity provider start</code>; it appears here once its stake and offer are on chain.
    </EmptyState>
  );
}

/** The front page: the network at a glance, live charts, providers, models and the feed. */
export function OverviewPage({ overview }: { overview: Overview }) {
  const { token } = useExplorer();
  const n = overview.network;
  const amount = (v: string) => formatAmountCompact(v, token.decimals);
  const series = visible(overview.series, n.trafficSince);
  const traffic = trafficChart(series, n);
  const earnings = earningsChart(series, token);
  const feed = overview.events.filter((e) => !QUIET.has(e.name)).slice(0, 10);
  const providerShare: ShareRow[] = overview.providers.map((p) => ({
    key: p.agentId,
    label: (
      <a href={href.provider(p.agentId)} className="agent-badge">
        #{p.agentId}
      </a>
    ),
    share: n.requests > 0 ? p.trafficShare : p.earningsShare,
    detail:
      n.requests > 0
        ? `${formatNumber(p.requests)} req`
        : `${formatAmount(p.settledVolume, token.decimals)} ${token.symbol}`,
  }));
  const modelShare: ShareRow[] = overview.models.map((m) => ({
    key: m.modelId,
    label: m.name,
    share: n.requests > 0 ? m.requestShare : m.volumeShare,
    detail: `${formatAmount(m.settledVolume, token.decimals)} ${token.symbol}`,
  }));
  const span = spanOf(series);
  return (
    <>
      <div className="stats">
        <StatCard
          label="Providers online"
          value={
            <>
              {n.providersOnline}
              <span className="of"> / {n.providersStaked}</span>
            </>
          }
          sub={`${n.engines} engine${n.engines === 1 ? "" : "s"} serving`}
          accent="green"
          live
        />
        <StatCard label="Models" value={n.models.length} sub={`${n.modelsRegistered} registered`} />
        <StatCard
          label="Requests / s"
          value={rate(n.requestsPerSec)}
          sub={`${formatNumber(n.requests)} served`}
          accent="green"
          live
        />
        <StatCard
          label="Tokens / s"
          value={rate(n.tokensPerSec)}
          sub={`${formatCompact(n.tokens)} tokens`}
          accent="violet"
          live
        />
        <StatCard
          label="Total paid"
          value={amount(n.totalPaid)}
          unit={token.symbol}
          sub={`${formatNumber(n.claims)} claims settled`}
          accent="green"
        />
        <StatCard label="Protocol fees" value={amount(n.protocolFees)} unit={token.symbol} sub="to the treasury" />
        <StatCard label="Model royalties" value={amount(n.royaltiesPaid)} unit={token.symbol} sub="to model owners" />
        <StatCard
          label="Stake locked"
          value={amount(n.stakeLocked)}
          unit={token.symbol}
          sub={n.slashed !== "0" ? `${amount(n.slashed)} slashed` : "nothing slashed"}
          accent="blue"
        />
        <StatCard
          label="Open channels"
          value={formatNumber(n.openChannels)}
          sub={`${amount(n.escrow)} ${token.symbol} in escrow`}
        />
        <StatCard
          label="Disputes"
          value={n.disputesOpen}
          unit="open"
          sub={`${n.disputes} total`}
          accent={n.disputesOpen > 0 ? "amber" : undefined}
        />
      </div>

      <div className="grid-2-1">
        <Panel title="Traffic" subtitle={`Requests and tokens through this gateway · ${span}`}>
          <TimeChart
            times={traffic.times}
            series={traffic.series}
            overlay={traffic.empty ? <NoTraffic /> : undefined}
          />
        </Panel>
        <Panel title="Market share" subtitle={n.requests > 0 ? "Share of requests served" : "Share of settled volume"}>
          <h3 className="mini-title">Providers</h3>
          <ShareBars rows={providerShare} empty={<EmptyState compact title="No traffic or payments yet" />} />
          <h3 className="mini-title">Models</h3>
          <ShareBars rows={modelShare} empty={<EmptyState compact title="No model has been paid for yet" />} />
        </Panel>
      </div>

      <div className="grid-1-1">
        <Panel title="Earnings" subtitle={`Settled claims and user charges · ${span}`}>
          <TimeChart
            times={earnings.times}
            series={earnings.series}
            height={200}
            overlay={
              earnings.empty ? (
                <EmptyState title="Nothing settled in this window">
                  Providers claim in batches; each claim shows up here and in the feed.
                </EmptyState>
              ) : undefined
            }
          />
        </Panel>
        <Panel title="Price distribution" subtitle="Every live offer, per model">
          {overview.models.some((m) => m.prices.length > 0) ? (
            <PriceStrip models={overview.models} />
          ) : (
            <EmptyState title="No live offers">Providers publish offers when they start.</EmptyState>
          )}
        </Panel>
      </div>

      <Panel
        title="Providers"
        subtitle="Staked agents serving inference"
        actions={
          <a className="btn" href={href.providers}>
            All providers →
          </a>
        }
      >
        {overview.providers.length > 0 ? (
          <ProvidersTable providers={overview.providers.slice(0, 10)} />
        ) : (
          <NoProviders />
        )}
      </Panel>

      <div className="grid-2-1">
        <Panel
          title="Live feed"
          subtitle="Claims, challenges, votes, slashes and refunds as they land on chain"
          actions={
            <a className="btn" href={href.activity}>
              All activity →
            </a>
          }
        >
          {feed.length > 0 ? (
            <EventFeed events={feed} />
          ) : (
            <EmptyState title="No events indexed yet">The feed fills as soon as contracts emit events.</EmptyState>
          )}
        </Panel>
        <div className="side-stack">
          <Panel
            title="Disputes"
            subtitle="Challenges of audited receipts"
            actions={
              <a className="btn" href={href.disputes}>
                All →
              </a>
            }
          >
            {overview.disputes.length > 0 ? (
              <DisputeCards disputes={overview.disputes.slice(0, 6)} />
            ) : (
              <EmptyState title="No disputes">
                Validators audit a sample of receipts; a failed audit opens a challenge here.
              </EmptyState>
            )}
          </Panel>
          <Panel title="Where the money goes" subtitle="Every claim splits between provider, model owner and treasury">
            <Settlement network={n} />
          </Panel>
        </div>
      </div>
    </>
  );
}
