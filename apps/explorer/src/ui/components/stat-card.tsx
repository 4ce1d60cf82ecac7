import type { ReactNode } from "react";

/** One headline figure: a label, a big value (with an optional unit) and a line of context. */
export function StatCard({
  label,
  value,
  unit,
  sub,
  accent,
  live = false,
}: {
  label: string;
  value: ReactNode;
  unit?: string;
  sub?: ReactNode;
  accent?: "green" | "violet" | "amber" | "red" | "blue" | undefined;
  live?: boolean;
}) {
  return (
    <div className={`stat ${accent ? `accent-${accent}` : ""}`}>
      <div className="stat-label">
        {live && <span className="pulse" aria-hidden="true" />}
        {label}
      </div>
      <div className="stat-value">
        {value}
        {unit && <span className="stat-unit">{unit}</span>}
      </div>
      {sub !== undefined && <div className="stat-sub">{sub}</div>}
    </div>
  );
}
