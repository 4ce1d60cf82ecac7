import type { Model } from "../api-types.ts";
import { useExplorer } from "../context.ts";
import { formatAmount, formatBps, formatNumber, formatPercent } from "../format.ts";
import { Addr } from "./links.tsx";

function range(min: string | null, max: string | null, decimals: number): string {
  if (min === null || max === null) return "—";
  return min === max ? formatAmount(min, decimals) : `${formatAmount(min, decimals)} – ${formatAmount(max, decimals)}`;
}

/** Registered models: owner, royalty, who serves them at what prices, and their share of the market. */
export function ModelsTable({ models }: { models: Model[] }) {
  const { token } = useExplorer();
  return (
    <div className="table-wrap">
      <table className="table">
        <thead>
          <tr>
            <th>Model</th>
            <th>Owner</th>
            <th className="num">Royalty</th>
            <th className="num">Providers</th>
            <th className="num">Input / 1M</th>
            <th className="num">Output / 1M</th>
            <th className="num">Requests</th>
            <th className="num">Settled</th>
            <th className="num">Royalties paid</th>
            <th className="num">Market share</th>
          </tr>
        </thead>
        <tbody>
          {models.map((m) => (
            <tr key={m.modelId} data-model={m.name}>
              <td>
                <span className="model-name">{m.name}</span>
                <small className="muted mono"> #{m.modelId}</small>
              </td>
              <td>
                <Addr address={m.owner} />
              </td>
              <td className="num">{formatBps(m.royaltyBps)}</td>
              <td className="num">{m.providers}</td>
              <td className="num">{range(m.minInputPricePerMTok, m.maxInputPricePerMTok, token.decimals)}</td>
              <td className="num">{range(m.minOutputPricePerMTok, m.maxOutputPricePerMTok, token.decimals)}</td>
              <td className="num">{formatNumber(m.requests)}</td>
              <td className="num">{formatAmount(m.settledVolume, token.decimals)}</td>
              <td className="num">{formatAmount(m.royaltiesPaid, token.decimals)}</td>
              <td className="num strong">{formatPercent(m.volumeShare > 0 ? m.volumeShare : m.requestShare)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
