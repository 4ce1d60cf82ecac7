import { ConfigError } from "@verity/core";
import { parseUnits } from "viem";

/** A decimal token amount (e.g. `0.5`) in base units; `decimals` of the payment token (TestUSD: 6). */
export function parseAmount(flag: string, value: string, decimals = 6): bigint {
  if (!/^\d+(\.\d+)?$/.test(value.trim())) {
    throw new ConfigError(`${flag} must be a decimal amount, got ${JSON.stringify(value)}`, {
      code: "invalid_parameter",
      hint: `For example ${flag} 0.5`,
    });
  }
  return parseUnits(value.trim(), decimals);
}

export function parseInteger(flag: string, value: string, min = 0): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new ConfigError(`${flag} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`, {
      code: "invalid_parameter",
      hint: `For example ${flag} ${Math.max(min, 1)}`,
    });
  }
  return n;
}

/** `30s`, `10m`, `2h`, `7d`, or plain milliseconds. */
export function parseDuration(flag: string, value: string): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(value.trim());
  if (!match) {
    throw new ConfigError(`${flag} must be a duration like 30s, 10m, 2h or 7d, got ${JSON.stringify(value)}`, {
      code: "invalid_parameter",
    });
  }
  const n = Number(match[1]);
  const unit = match[2] ?? "ms";
  return (
    n * ({ ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const)[unit as "ms" | "s" | "m" | "h" | "d"]
  );
}
