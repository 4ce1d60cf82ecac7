import type { Dispute } from "../api-types.ts";
import { useExplorer } from "../context.ts";
import { formatAmount, timeAgo } from "../format.ts";
import { Addr, AgentLink, TxLink } from "./links.tsx";

function Verdict({ d }: { d: Dispute }) {
  if (d.status === "guilty") return <span className="status bad">guilty</span>;
  if (d.status === "notGuilty") return <span className="status good">not guilty</span>;
  const phase = d.reveals.length > 0 ? "revealing" : d.commits.length > 0 ? "voting" : "open";
  return <span className="status warn">{phase}</span>;
}

function Votes({ d }: { d: Dispute }) {
  const guilty = d.reveals.filter((r) => r.guilty).length;
  return (
    <span
      className="votes"
      title={`${d.commits.length} of ${d.committee.length} committed, ${d.reveals.length} revealed`}
    >
      {d.committee.map((m) => {
        const r = d.reveals.find((x) => x.voter === m);
        const cls = r ? (r.guilty ? "bad" : "good") : d.commits.includes(m) ? "sealed" : "";
        return <span key={m} className={`vote ${cls}`} title={m} />;
      })}
      <small className="muted">
        {guilty}–{d.reveals.length - guilty}
      </small>
    </span>
  );
}

/** Disputes as compact cards (for narrow columns). */
export function DisputeCards({ disputes }: { disputes: Dispute[] }) {
  const { token, chainNow } = useExplorer();
  return (
    <ul className="dispute-cards">
      {disputes.map((d) => (
        <li key={d.disputeId}>
          <div className="dc-head">
            <span className="mono">#{d.disputeId}</span>
            <span className="muted">against</span>
            <AgentLink agentId={d.agentId} />
            <span className="spacer" />
            <Verdict d={d} />
          </div>
          <div className="dc-body">
            <Votes d={d} />
            <span className="muted">
              {d.status === "guilty"
                ? `${formatAmount(d.slashed, token.decimals)} ${token.symbol} slashed`
                : `charge ${formatAmount(d.charge, token.decimals)} ${token.symbol}`}
            </span>
            <span className="muted">{timeAgo({ at: d.openedAt, now: chainNow })}</span>
          </div>
        </li>
      ))}
    </ul>
  );
}

/** Disputes: who challenged whom, the committee's votes and the outcome. */
export function DisputesTable({ disputes }: { disputes: Dispute[] }) {
  const { token, chainNow } = useExplorer();
  return (
    <div className="table-wrap">
      <table className="table">
        <thead>
          <tr>
            <th>Dispute</th>
            <th>Provider</th>
            <th>Challenger</th>
            <th className="num">Charge</th>
            <th>Votes</th>
            <th>Verdict</th>
            <th className="num">Slashed</th>
            <th className="num">Refunded</th>
            <th>Opened</th>
            <th>Resolution</th>
          </tr>
        </thead>
        <tbody>
          {disputes.map((d) => {
            return (
              <tr key={d.disputeId}>
                <td className="mono">#{d.disputeId}</td>
                <td>
                  <AgentLink agentId={d.agentId} />
                </td>
                <td>
                  <Addr address={d.challenger} />
                </td>
                <td className="num">{formatAmount(d.charge, token.decimals)}</td>
                <td>
                  <Votes d={d} />
                </td>
                <td>
                  <Verdict d={d} />
                </td>
                <td className="num">{d.status === "guilty" ? formatAmount(d.slashed, token.decimals) : "—"}</td>
                <td className="num">{d.status === "guilty" ? formatAmount(d.refunded, token.decimals) : "—"}</td>
                <td className="muted">{timeAgo({ at: d.openedAt, now: chainNow })}</td>
                <td>
                  {d.resolvedTxHash ? <TxLink hash={d.resolvedTxHash} /> : <span className="muted">pending</span>}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
