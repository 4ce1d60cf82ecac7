import { useJson } from "../api.ts";
import type { Overview, ProviderDetail } from "../api-types.ts";
import { trafficChart, visible } from "../charts.ts";
import { DisputesTable } from "../components/disputes-table.tsx";
import { EventFeed } from "../components/event-feed.tsx";
import { Addr } from "../components/links.tsx";
import { EmptyState, Panel } from "../components/panel.tsx";
import { Reputation, Status } from "../components/providers-table.tsx";
import { StatCard } from "../components/stat-card.tsx";
import { TimeChart } from "../components/time-chart.tsx";
import { useExplorer } from "../context.ts";
import { formatAmount, formatAmountCompact, formatMs, formatNumber, formatPercent } from "../format.ts";
import { href } from "../router.ts";
import { NoTraffic } from "./overview-page.tsx";
import { ProviderOracleAnswers } from "./provider-oracle.tsx";

/** One provider: identity, stake, offers, traffic, earnings, track record, channels and events. */
export function ProviderPage({ agentId, overview }: { agentId: string; overview: Overview }) {
  const { token } = useExplorer();
  const { data, error } = useJson<ProviderDetail>(`/api/providers/${agentId}`, overview.updatedAt);
  if (!data) {
    return (
      <Panel title={`Provider #${agentId}`}>
        {error ? (
          <EmptyState title="No such provider">
            {error} <a href={href.providers}>See all providers</a>.
          </EmptyState>
        ) : (
          <div className="loading">Loading…</div>
        )}
      </Panel>
    );
  }
  const p = data.provider;
  const series = visible(data.series, overview.network.trafficSince);
  const rates = series.points.slice(-3);
  const recent = {
    requestsPerSec: rates.reduce((s, x) => s + x.requests, 0) / ((rates.length * data.series.stepMs) / 1000 || 1),
    tokensPerSec: rates.reduce((s, x) => s + x.tokens, 0) / ((rates.length * data.series.stepMs) / 1000 || 1),
  };
  const traffic = trafficChart(series, recent);
  const amount = (v: string) => formatAmountCompact(v, token.decimals);
  return (
    <>
      <div className="page-head">
        <a href={href.providers} className="back">
          ← Providers
        </a>
        <h1>
          <span className="agent-badge big">#{p.agentId}</span> Provider
          <Status provider={p} />
        </h1>
        <div className="page-meta">
          <span>
            owner <Addr address={p.owner} />
          </span>
          {p.wallet && (
            <span>
              wallet <Addr address={p.wallet} />
            </span>
          )}
          {p.uri && <span className="mono break muted">{p.uri.length > 80 ? `${p.uri.slice(0, 80)}…` : p.uri}</span>}
        </div>
      </div>
      <div className="stats">
        <StatCard
          label="Stake"
          value={amount(p.stake)}
          unit={token.symbol}
          sub={p.unbonding !== "0" ? `${amount(p.unbonding)} unbonding` : "bonded"}
          accent="blue"
        />
        <StatCard
          label="Earnings"
          value={amount(p.earnings)}
          unit={token.symbol}
          sub={`${p.claims} claim${p.claims === 1 ? "" : "s"} · ${formatPercent(p.earningsShare)} of volume`}
          accent="green"
        />
        <StatCard
          label="Requests"
          value={formatNumber(p.requests)}
          sub={`${formatPercent(p.trafficShare)} of traffic${p.failed ? ` · ${p.failed} failed` : ""}`}
          accent="green"
        />
        <StatCard
          label="Tokens"
          value={formatNumber(p.tokens)}
          sub={p.avgRequestMs === null ? "no requests yet" : `${formatMs(p.avgRequestMs)} per request`}
          accent="violet"
        />
        <StatCard label="Uptime" value={formatPercent(p.uptime)} sub={`probe latency ${formatMs(p.latencyMs)}`} />
        <StatCard
          label="Reputation"
          value={p.reputation ? <Reputation value={p.reputation} /> : "—"}
          sub={p.reputation ? "mean on-chain feedback" : "no feedback yet"}
        />
        <StatCard
          label="Audits"
          value={
            <>
              <span className="good">{p.audits.passed}</span>
              <span className="of"> / </span>
              <span className={p.audits.failed ? "bad" : ""}>{p.audits.failed}</span>
            </>
          }
          sub="passed / failed"
        />
        <StatCard
          label="Slashes"
          value={p.slashes}
          sub={p.slashed !== "0" ? `${amount(p.slashed)} ${token.symbol} slashed` : "clean record"}
          accent={p.slashes > 0 ? "red" : undefined}
        />
      </div>
      <div className="grid-2-1">
        <Panel title="Traffic" subtitle="Requests this gateway routed to the provider">
          <TimeChart
            times={traffic.times}
            series={traffic.series}
            overlay={traffic.empty ? <NoTraffic /> : undefined}
          />
        </Panel>
        <Panel title="Offers" subtitle={`Prices in ${token.symbol} per 1M tokens`}>
          {p.offers.length === 0 ? (
            <EmptyState title="No active offer" />
          ) : (
            <ul className="offers">
              {p.offers.map((o) => (
                <li key={o.offerId}>
                  <div className="offer-head">
                    <b>{o.model}</b>
                    <span className={`status ${o.healthy ? "good" : o.live ? "warn" : "muted"}`}>
                      {o.healthy ? "healthy" : o.live ? "unhealthy" : "not routed"}
                    </span>
                  </div>
                  <div className="offer-prices">
                    <span>
                      in <b>{formatAmount(o.inputPricePerMTok, token.decimals)}</b>
                    </span>
                    <span>
                      out <b>{formatAmount(o.outputPricePerMTok, token.decimals)}</b>
                    </span>
                    <span className="muted">max {formatNumber(o.maxOutputTokens)} tok</span>
                  </div>
                  <div className="mono muted small break">{o.url}</div>
                </li>
              ))}
            </ul>
          )}
        </Panel>
      </div>
      <div className="grid-2-1">
        <Panel title="Activity" subtitle="Events about this provider">
          {data.events.length > 0 ? <EventFeed events={data.events} /> : <EmptyState title="No events yet" />}
        </Panel>
        <Panel title="Payment channels" subtitle="Escrow opened to this provider">
          {data.channels.length === 0 ? (
            <EmptyState title="No channel yet">Clients and gateways open one on their first request.</EmptyState>
          ) : (
            <ul className="channels">
              {data.channels.map((c) => {
                const used =
                  BigInt(c.deposit) > 0n ? Number((BigInt(c.claimed) * 1000n) / BigInt(c.deposit)) / 1000 : 0;
                return (
                  <li key={c.channelId}>
                    <div className="offer-head">
                      <Addr address={c.payer} />
                      {c.payerAgentId !== undefined && (
                        <span className="status good" title="The payer is itself a registered agent">
                          agent-to-agent · agent {c.payerAgentId}
                        </span>
                      )}
                      <span className={`status ${c.finalized ? "muted" : c.withdrawing ? "warn" : "good"}`}>
                        {c.finalized ? "closed" : c.withdrawing ? "withdrawing" : "open"}
                      </span>
                    </div>
                    <div className="inline-bar wide">
                      <span style={{ width: `${used * 100}%` }} />
                    </div>
                    <div className="small muted">
                      {formatAmount(c.claimed, token.decimals)} claimed of {formatAmount(c.deposit, token.decimals)}{" "}
                      {token.symbol}
                    </div>
                  </li>
                );
              })}
            </ul>
          )}
        </Panel>
      </div>
      <ProviderOracleAnswers agentId={agentId} overview={overview} />
      {data.disputes.length > 0 && (
        <Panel title="Disputes" subtitle="Challenges against this provider">
          <DisputesTable disputes={data.disputes} />
        </Panel>
      )}
    </>
  );
}
