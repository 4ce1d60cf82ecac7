import { type ReactNode, useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export type ChartSeries = {
  label: string;
  color: string;
  values: number[];
  /** Left or right y axis (default left). */
  axis?: "left" | "right";
  kind?: "line" | "area" | "bars";
  format: (v: number) => string;
  /** Shown in the legend beside the label (e.g. the current rate or a total). */
  summary?: string;
};

const AXIS = "#7d869c";
const GRID = "rgba(148, 163, 184, 0.08)";
const FONT = '11px ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

const clock = (t: number, seconds = true) =>
  new Date(t * 1000).toLocaleTimeString([], {
    hourCycle: "h23",
    hour: "2-digit",
    minute: "2-digit",
    ...(seconds ? { second: "2-digit" as const } : {}),
  });

function options(args: {
  width: number;
  height: number;
  series: ChartSeries[];
  tooltip: HTMLDivElement;
}): uPlot.Options {
  const { series, tooltip } = args;
  const axisOf = (side: "left" | "right") => series.find((s) => (s.axis ?? "left") === side);
  const left = axisOf("left");
  const right = axisOf("right");
  const range: uPlot.Range.Function = (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1];
  const bars = uPlot.paths.bars?.({ size: [0.7, 14], gap: 1 });
  return {
    width: args.width,
    height: args.height,
    legend: { show: false },
    padding: [12, 8, 0, 4],
    cursor: { drag: { x: false, y: false }, points: { size: 7, fill: "#0f131b" } },
    scales: { x: { time: true }, left: { range }, right: { range } },
    axes: [
      {
        stroke: AXIS,
        font: FONT,
        grid: { stroke: GRID, width: 1 },
        ticks: { show: false },
        space: 80,
        values: (u, splits) => {
          const span = (u.scales.x?.max ?? 0) - (u.scales.x?.min ?? 0);
          return splits.map((s) => clock(s, span < 600));
        },
      },
      {
        scale: "left",
        stroke: AXIS,
        font: FONT,
        grid: { stroke: GRID, width: 1 },
        ticks: { show: false },
        size: 52,
        values: (_u, vals) => vals.map((v) => (left ? left.format(v) : String(v))),
      },
      ...(right
        ? [
            {
              scale: "right",
              side: 1,
              stroke: AXIS,
              font: FONT,
              grid: { show: false },
              ticks: { show: false },
              size: 52,
              values: (_u: uPlot, vals: number[]) => vals.map((v) => right.format(v)),
            },
          ]
        : []),
    ],
    series: [
      {},
      ...series.map((s) => ({
        label: s.label,
        scale: s.axis ?? "left",
        stroke: s.color,
        width: s.kind === "bars" ? 0 : 2,
        ...(s.kind === "bars" ? { fill: `${s.color}cc` } : s.kind === "area" ? { fill: `${s.color}26` } : {}),
        points: { show: false },
        ...(s.kind === "bars" && bars ? { paths: bars } : {}),
      })),
    ],
    hooks: {
      setCursor: [
        (u) => {
          const idx = u.cursor.idx;
          if (idx === null || idx === undefined || u.cursor.left === undefined || u.cursor.left < 0) {
            tooltip.style.display = "none";
            return;
          }
          const rows = series
            .map(
              (s, i) =>
                `<div class="tt-row"><span class="tt-dot" style="background:${s.color}"></span>${s.label}<b>${s.format(
                  (u.data[i + 1]?.[idx] as number | null) ?? 0,
                )}</b></div>`,
            )
            .join("");
          tooltip.innerHTML = `<div class="tt-time">${clock(u.data[0]?.[idx] ?? 0)}</div>${rows}`;
          tooltip.style.display = "block";
          const x = u.cursor.left + u.bbox.left / devicePixelRatio;
          const flip = x > u.width - 180;
          tooltip.style.left = `${flip ? x - 172 : x + 12}px`;
        },
      ],
    },
  };
}

/**
 * A time-series chart (uPlot): lines, areas or bars over unix-second times, up to two y axes, a
 * legend with each series' summary and a hover tooltip. Resizes with its container.
 */
export function TimeChart({
  times,
  series,
  height = 220,
  overlay,
}: {
  times: number[];
  series: ChartSeries[];
  height?: number;
  /** Shown over the plot (e.g. an empty state when there is no data yet). */
  overlay?: ReactNode;
}) {
  const box = useRef<HTMLDivElement>(null);
  const tip = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => `${s.label}:${s.color}:${s.axis ?? "left"}:${s.kind ?? "line"}`).join("|");
  const latest = useRef(series);
  latest.current = series;

  // biome-ignore lint/correctness/useExhaustiveDependencies: the chart is rebuilt only when the series' shape changes
  useEffect(() => {
    const el = box.current;
    const tooltip = tip.current;
    if (!el || !tooltip) return;
    const chart = new uPlot(
      options({ width: Math.max(200, el.clientWidth), height, series: latest.current, tooltip }),
      [times, ...latest.current.map((s) => s.values)],
      el,
    );
    plot.current = chart;
    const observer = new ResizeObserver(() => chart.setSize({ width: Math.max(200, el.clientWidth), height }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, [shape, height]);

  useEffect(() => {
    plot.current?.setData([times, ...series.map((s) => s.values)]);
  }, [times, series]);

  return (
    <div className="chart">
      <div className="chart-legend">
        {series.map((s) => (
          <span key={s.label} className="legend-item">
            <span className={`legend-swatch ${s.kind === "bars" ? "bar" : ""}`} style={{ background: s.color }} />
            {s.label}
            {s.summary && <b>{s.summary}</b>}
          </span>
        ))}
      </div>
      <div className="chart-plot" style={{ height }}>
        <div ref={box} className="chart-canvas" />
        <div ref={tip} className="chart-tooltip" />
        {overlay && <div className="chart-overlay">{overlay}</div>}
      </div>
    </div>
  );
}
