import type { Dataset, Model } from "../api-types.ts";
import { useExplorer } from "../context.ts";
import { formatAmount, formatBps } from "../format.ts";
import { Addr } from "./links.tsx";

/** Registered datasets: owner, the models crediting them (share of each royalty) and earnings per contributor. */
export function DatasetsTable({ datasets, models }: { datasets: Dataset[]; models: Model[] }) {
  const { token } = useExplorer();
  const nameOf = (modelId: string) => models.find((m) => m.modelId === modelId)?.name ?? `#${modelId}`;
  return (
    <div className="table-wrap">
      <table className="table">
        <thead>
          <tr>
            <th>Dataset</th>
            <th>Owner</th>
            <th>Credited by</th>
            <th>Paid to</th>
            <th className="num">Earned</th>
          </tr>
        </thead>
        <tbody>
          {datasets.map((d) => (
            <tr key={d.datasetId} data-dataset={d.datasetId}>
              <td>
                <span className="mono">#{d.datasetId}</span>
                <small className="muted mono" title={d.digest}>
                  {" "}
                  {d.digest.slice(0, 10)}…
                </small>
              </td>
              <td>
                <Addr address={d.owner} />
              </td>
              <td>
                {d.credits.length > 0
                  ? d.credits.map((c) => `${nameOf(c.modelId)} (${formatBps(c.shareBps)} of royalty)`).join(", ")
                  : "—"}
              </td>
              <td>
                {d.payees.length > 0
                  ? d.payees.map((p) => (
                      <div key={p.to}>
                        <Addr address={p.to} /> {formatAmount(p.amount, token.decimals)}
                      </div>
                    ))
                  : "—"}
              </td>
              <td className="num strong">{formatAmount(d.earned, token.decimals)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
