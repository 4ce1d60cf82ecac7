import { formatUnits } from "viem";

/**
 * A token amount in base units as a readable decimal with thousands separators: `1234500000n` →
 * `1,234.5` (6 decimals, the payment token's). Amounts in JSON output stay base-unit strings.
 */
export function formatAmount(value: bigint, decimals = 6): string {
  const [whole = "0", fraction] = formatUnits(value, decimals).split(".");
  const negative = whole.startsWith("-");
  const digits = negative ? whole.slice(1) : whole;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}${grouped}${fraction ? `.${fraction}` : ""}`;
}
