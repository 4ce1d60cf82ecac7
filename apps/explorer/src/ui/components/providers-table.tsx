import type { Provider } from "../api-types.ts";
import { useExplorer } from "../context.ts";
import { formatAmount, formatAmountCompact, formatMs, formatNumber, formatPercent } from "../format.ts";
import { href } from "../router.ts";
import { Addr } from "./links.tsx";

export function Status({ provider }: { provider: Pick<Provider, "healthy" | "paused" | "offers"> }) {
  if (provider.paused) return <span className="status bad">paused</span>;
  if (!provider.offers.some((o) => o.live)) return <span className="status muted">no offer</span>;
  return provider.healthy ? <span className="status good">online</span> : <span className="status warn">offline</span>;
}

export function Reputation({ value }: { value: Provider["reputation"] }) {
  if (!value) return <span className="muted">none yet</span>;
  const tone = value.average < 0 ? "bad" : value.average > 0 ? "good" : "muted";
  return (
    <span className={`rep ${tone}`} title={`${value.count} feedback entr${value.count === 1 ? "y" : "ies"}`}>
      {value.average > 0 ? "+" : ""}
      {formatNumber(value.average)}
      <small> ({value.count})</small>
    </span>
  );
}

function priceRange(p: Provider, decimals: number): string {
  const outs = p.offers.map((o) => BigInt(o.outputPricePerMTok));
  if (outs.length === 0) return "—";
  const lo = outs.reduce((a, b) => (a < b ? a : b));
  const hi = outs.reduce((a, b) => (a > b ? a : b));
  return lo === hi ? formatAmount(lo, decimals) : `${formatAmount(lo, decimals)}–${formatAmount(hi, decimals)}`;
}

/** Every staked provider: health, stake, offers and prices, traffic, earnings and track record. */
export function ProvidersTable({ providers }: { providers: Provider[] }) {
  const { token } = useExplorer();
  return (
    <div className="table-wrap">
      <table className="table providers-table">
        <thead>
          <tr>
            <th>Provider</th>
            <th>Status</th>
            <th className="num">Stake</th>
            <th>Models</th>
            <th className="num" title={`Output price, ${token.symbol} per 1M tokens`}>
              Out / 1M
            </th>
            <th className="num">Uptime</th>
            <th className="num">Latency</th>
            <th className="num">Requests</th>
            <th className="num">Traffic share</th>
            <th className="num">Earnings</th>
            <th className="num">Reputation</th>
            <th className="num" title="Audits passed / failed">
              Audits
            </th>
            <th className="num">Slashes</th>
          </tr>
        </thead>
        <tbody>
          {providers.map((p) => (
            <tr
              key={p.agentId}
              data-agent-id={p.agentId}
              onClick={() => (window.location.hash = href.provider(p.agentId))}
            >
              <td>
                <a className="provider-cell" href={href.provider(p.agentId)}>
                  <span className="agent-badge">#{p.agentId}</span>
                  <Addr address={p.owner} />
                </a>
              </td>
              <td>
                <Status provider={p} />
              </td>
              <td className="num">{formatAmountCompact(p.stake, token.decimals)}</td>
              <td>
                <span className="chips">
                  {[...new Set(p.offers.map((o) => o.model))].map((m) => (
                    <span className="chip" key={m}>
                      {m}
                    </span>
                  ))}
                </span>
              </td>
              <td className="num">{priceRange(p, token.decimals)}</td>
              <td className="num">{formatPercent(p.uptime)}</td>
              <td className="num">{formatMs(p.latencyMs)}</td>
              <td className="num">{formatNumber(p.requests)}</td>
              <td className="num">
                <span className="inline-bar">
                  <span style={{ width: `${p.trafficShare * 100}%` }} />
                </span>
                {formatPercent(p.trafficShare)}
              </td>
              <td className="num strong">{formatAmount(p.earnings, token.decimals)}</td>
              <td className="num">
                <Reputation value={p.reputation} />
              </td>
              <td className="num">
                <span className="good">{p.audits.passed}</span>
                <span className="muted"> / </span>
                <span className={p.audits.failed > 0 ? "bad" : "muted"}>{p.audits.failed}</span>
              </td>
              <td className={`num ${p.slashes > 0 ? "bad" : "muted"}`}>{p.slashes}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
