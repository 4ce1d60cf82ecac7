import type { ReactNode } from "react";
import { formatPercent } from "../format.ts";

export type ShareRow = { key: string; label: ReactNode; share: number; detail?: string };

export const PALETTE = ["#3ddc97", "#7c8cff", "#f5b14c", "#4cc9f0", "#ff7aa8", "#b48cff", "#9be564", "#ff9f6b"];

/** Market share as one stacked bar plus a ranked list of horizontal bars. */
export function ShareBars({ rows, empty }: { rows: ShareRow[]; empty?: ReactNode }) {
  const shown = rows.filter((r) => r.share > 0).sort((a, b) => b.share - a.share);
  if (shown.length === 0) return <>{empty}</>;
  return (
    <div className="share">
      <div className="share-stack" role="img" aria-label="market share">
        {shown.map((r, i) => (
          <span key={r.key} style={{ width: `${r.share * 100}%`, background: PALETTE[i % PALETTE.length] }} />
        ))}
      </div>
      <ul className="share-list">
        {shown.map((r, i) => (
          <li key={r.key}>
            <span className="share-label">
              <span className="legend-swatch" style={{ background: PALETTE[i % PALETTE.length] }} />
              {r.label}
            </span>
            <span className="share-track">
              <span style={{ width: `${Math.max(1.5, r.share * 100)}%`, background: PALETTE[i % PALETTE.length] }} />
            </span>
            <span className="share-value">
              {formatPercent(r.share)}
              {r.detail && <small>{r.detail}</small>}
            </span>
          </li>
        ))}
      </ul>
    </div>
  );
}
