import type { Series } from "./api-types.ts";
import type { ChartSeries } from "./components/time-chart.tsx";
import { formatAmount, formatCompact } from "./format.ts";

/** At least this many buckets are shown, so a fresh gateway's chart is not a single column. */
const MIN_POINTS = 12;

/**
 * The buckets worth drawing: from when the gateway started counting (its series is in memory) up
 * to now, at least `MIN_POINTS` of them, at most what the API sent.
 */
export function visible(series: Series, since: number): Series {
  const first = series.points.findIndex((p) => p.t + series.stepMs > since);
  const start = first < 0 ? series.points.length : first;
  return { ...series, points: series.points.slice(Math.max(0, Math.min(start, series.points.length - MIN_POINTS))) };
}

const perSecond = (n: number, stepMs: number) => n / (stepMs / 1000);
const rate = (v: number) => (v === 0 ? "0" : v < 10 ? v.toFixed(v < 1 ? 2 : 1) : formatCompact(Math.round(v)));

/** Requests/s and tokens/s per bucket, on two axes. */
export function trafficChart(series: Series, now: { requestsPerSec: number; tokensPerSec: number }) {
  const times = series.points.map((p) => p.t / 1000);
  const lines: ChartSeries[] = [
    {
      label: "Tokens/s",
      color: "#7c8cff",
      kind: "area",
      axis: "right",
      values: series.points.map((p) => perSecond(p.tokens, series.stepMs)),
      format: rate,
      summary: rate(now.tokensPerSec),
    },
    {
      label: "Requests/s",
      color: "#3ddc97",
      kind: "bars",
      axis: "left",
      values: series.points.map((p) => perSecond(p.requests, series.stepMs)),
      format: rate,
      summary: rate(now.requestsPerSec),
    },
  ];
  const empty = series.points.every((p) => p.requests === 0 && p.failed === 0);
  return { times, series: lines, empty };
}

/** Settled payments (claims) per bucket as bars and what users were charged as a line, in tokens. */
export function earningsChart(series: Series, token: { symbol: string; decimals: number }) {
  const unit = 10 ** token.decimals;
  const times = series.points.map((p) => p.t / 1000);
  const total = (key: "paid" | "charged") => series.points.reduce((s, p) => s + BigInt(p[key]), 0n);
  const money = (v: number) => (v === 0 ? "0" : formatAmount(BigInt(Math.round(v * unit)), token.decimals));
  const lines: ChartSeries[] = [
    {
      label: "Settled on chain",
      color: "#3ddc97",
      kind: "bars",
      values: series.points.map((p) => Number(p.paid) / unit),
      format: money,
      summary: `${formatAmount(total("paid"), token.decimals)} ${token.symbol}`,
    },
    {
      label: "Charged to users",
      color: "#f5b14c",
      kind: "line",
      values: series.points.map((p) => Number(p.charged) / unit),
      format: money,
      summary: `${formatAmount(total("charged"), token.decimals)} ${token.symbol}`,
    },
  ];
  const empty = series.points.every((p) => p.paid === "0" && p.charged === "0");
  return { times, series: lines, empty };
}

/** "last 15 min" or "last 4 min" — the span the chart covers. */
export function spanOf(series: Series): string {
  const minutes = Math.max(1, Math.round((series.points.length * series.stepMs) / 60_000));
  return `last ${minutes} min`;
}
