import type { Network } from "../api-types.ts";
import { useExplorer } from "../context.ts";
import { formatAmount, formatPercent } from "../format.ts";
import { EmptyState } from "./panel.tsx";

const PARTS = [
  { key: "providerEarnings", label: "Providers", color: "#3ddc97" },
  { key: "royaltiesPaid", label: "Model royalties", color: "#7c8cff" },
  { key: "protocolFees", label: "Protocol fee", color: "#f5b14c" },
] as const;

/** Where settled money went (providers, model owners, treasury), and what is still held or returned. */
export function Settlement({ network }: { network: Network }) {
  const { token } = useExplorer();
  const total = BigInt(network.totalPaid);
  const amt = (v: string) => `${formatAmount(v, token.decimals)} ${token.symbol}`;
  const share = (v: string) => (total === 0n ? 0 : Number((BigInt(v) * 10_000n) / total) / 10_000);
  return (
    <div className="settlement">
      {total === 0n ? (
        <EmptyState compact title="Nothing settled yet — each claim splits here" />
      ) : (
        <>
          <div className="share-stack tall">
            {PARTS.map((p) => (
              <span key={p.key} style={{ width: `${share(network[p.key]) * 100}%`, background: p.color }} />
            ))}
          </div>
          <ul className="split-list">
            {PARTS.map((p) => (
              <li key={p.key}>
                <span className="legend-swatch bar" style={{ background: p.color }} />
                <span>{p.label}</span>
                <b>{amt(network[p.key])}</b>
                <small>{formatPercent(share(network[p.key]))}</small>
              </li>
            ))}
          </ul>
        </>
      )}
      <dl className="facts two">
        <div>
          <dt>In escrow</dt>
          <dd>{amt(network.escrow)}</dd>
        </div>
        <div>
          <dt>Refunded to payers</dt>
          <dd>{amt(network.channelRefunds)}</dd>
        </div>
        <div>
          <dt>Charged by this gateway</dt>
          <dd>{amt(network.charged)}</dd>
        </div>
        <div>
          <dt>Stake slashed</dt>
          <dd className={network.slashed !== "0" ? "bad" : ""}>{amt(network.slashed)}</dd>
        </div>
      </dl>
    </div>
  );
}
