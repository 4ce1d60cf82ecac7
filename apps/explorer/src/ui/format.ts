/** Number and amount formatting for the explorer. Amounts arrive as decimal strings of base units. */

const group = (digits: string): string => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");

function toBig(value: string | bigint | number | null | undefined): bigint {
  if (value === null || value === undefined || value === "") return 0n;
  if (typeof value === "bigint") return value;
  if (typeof value === "number") return BigInt(Math.trunc(value));
  return /^-?\d+$/.test(value) ? BigInt(value) : 0n;
}

/**
 * A token amount in base units as a readable decimal: grouped thousands, 2 decimals from 1 up,
 * more below 1 (up to `decimals`, trailing zeros trimmed, at least 2 significant digits shown).
 * `formatAmount("1234567890", 6)` → "1,234.57"; `formatAmount("1234", 6)` → "0.0012".
 */
export function formatAmount(value: string | bigint | number | null | undefined, decimals: number): string {
  const v = toBig(value);
  const negative = v < 0n;
  const abs = negative ? -v : v;
  const unit = 10n ** BigInt(decimals);
  const whole = abs / unit;
  const fraction = (abs % unit).toString().padStart(decimals, "0");
  let shown: string;
  if (abs === 0n) shown = "0";
  else if (whole > 0n) {
    // round to 2 decimals
    const cents = (abs * 100n + unit / 2n) / unit;
    shown = `${group((cents / 100n).toString())}.${(cents % 100n).toString().padStart(2, "0")}`;
  } else {
    const firstSignificant = fraction.search(/[1-9]/);
    const keep = Math.min(decimals, Math.max(2, firstSignificant + 2));
    shown = `0.${fraction.slice(0, keep).replace(/0+$/, "") || "0"}`;
    if (shown === "0.0") shown = "0";
  }
  return negative ? `-${shown}` : shown;
}

/** A token amount compacted for headline figures: "12.3K", "4.56M"; small values as `formatAmount`. */
export function formatAmountCompact(value: string | bigint | number | null | undefined, decimals: number): string {
  const v = toBig(value);
  const unit = 10n ** BigInt(decimals);
  const abs = v < 0n ? -v : v;
  if (abs < 10_000n * unit) return formatAmount(v, decimals);
  return formatCompact(Number(v / unit));
}

/** "1.2K", "3.4M", "5.6B"; below 10,000 grouped integers or one decimal. */
export function formatCompact(n: number): string {
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${trim(n / 1e9)}B`;
  if (abs >= 1e6) return `${trim(n / 1e6)}M`;
  if (abs >= 1e4) return `${trim(n / 1e3)}K`;
  return formatNumber(n);
}

const trim = (n: number): string =>
  Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);

/** Integers grouped ("12,345"); fractions with up to one decimal ("3.5"), or two below 1 ("0.25"). */
export function formatNumber(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  if (Number.isInteger(n)) return group(String(n));
  const abs = Math.abs(n);
  const digits = abs >= 100 ? 0 : abs >= 1 ? 1 : 2;
  const [int, frac] = n.toFixed(digits).split(".");
  return frac ? `${group(int ?? "0")}.${frac}` : group(int ?? "0");
}

/** A share 0…1 as a percentage: "45.2%", "<0.1%", "100%". */
export function formatPercent(share: number | null | undefined): string {
  if (share === null || share === undefined || !Number.isFinite(share)) return "—";
  if (share === 0) return "0%";
  if (share < 0.001) return "<0.1%";
  if (share >= 0.9995) return "100%";
  return `${(share * 100).toFixed(1)}%`;
}

/** Basis points as a percentage: 500 → "5%", 125 → "1.25%". */
export function formatBps(bps: number): string {
  return `${Number((bps / 100).toFixed(2))}%`;
}

/** "0x1234…abcd" (addresses, hashes); short inputs unchanged. */
export function shortHex(hex: string | null | undefined, head = 6, tail = 4): string {
  if (!hex) return "—";
  return hex.length <= head + tail + 1 ? hex : `${hex.slice(0, head)}…${hex.slice(-tail)}`;
}

/** Seconds between two unix times as "12s ago", "5m ago", "3h ago", "2d ago" ("just now" under 2 s). */
export function timeAgo(args: { at: number; now: number }): string {
  const s = Math.max(0, Math.round(args.now - args.at));
  if (s < 2) return "just now";
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** Milliseconds as "42 ms" or "1.3 s". */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
