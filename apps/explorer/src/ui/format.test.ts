import assert from "node:assert/strict";
import { test } from "node:test";
import {
  formatAmount,
  formatAmountCompact,
  formatBps,
  formatCompact,
  formatMs,
  formatNumber,
  formatPercent,
  shortHex,
  timeAgo,
} from "./format.ts";

test("token amounts read as decimals of the token, not base units", () => {
  const cases: [string | bigint, string][] = [
    ["0", "0"],
    ["1000000", "1.00"],
    ["1234567890", "1,234.57"],
    ["999999", "0.99"],
    ["500000", "0.5"],
    ["1234", "0.0012"],
    ["5", "0.000005"],
    [-2_500_000n, "-2.50"],
    ["not a number", "0"],
  ];
  for (const [value, shown] of cases) assert.equal(formatAmount(value, 6), shown, String(value));
  assert.equal(formatAmount("123", 0), "123.00");
  assert.equal(formatAmountCompact("12345000000", 6), "12.3K");
  assert.equal(formatAmountCompact("1500000000", 6), "1,500.00");
});

test("counts, shares, basis points, durations and hashes", () => {
  assert.deepEqual(
    [formatNumber(1234567), formatNumber(3.456), formatNumber(0.256), formatNumber(null)],
    ["1,234,567", "3.5", "0.26", "—"],
  );
  assert.deepEqual(
    [formatCompact(9_999), formatCompact(12_345), formatCompact(4_560_000)],
    ["9,999", "12.3K", "4.56M"],
  );
  assert.deepEqual(
    [formatPercent(0), formatPercent(0.0004), formatPercent(0.4521), formatPercent(1), formatPercent(null)],
    ["0%", "<0.1%", "45.2%", "100%", "—"],
  );
  assert.deepEqual([formatBps(500), formatBps(125), formatBps(0)], ["5%", "1.25%", "0%"]);
  assert.deepEqual([formatMs(42.4), formatMs(1300), formatMs(null)], ["42 ms", "1.3 s", "—"]);
  assert.equal(shortHex(`0x${"ab".repeat(32)}`), "0xabab…abab");
  assert.equal(shortHex("0x12"), "0x12");
  assert.deepEqual(
    [0, 1, 45, 300, 7_200, 200_000].map((ago) => timeAgo({ at: 1_000_000 - ago, now: 1_000_000 })),
    ["just now", "just now", "45s ago", "5m ago", "2h ago", "2d ago"],
  );
  assert.equal(timeAgo({ at: 2_000, now: 1_000 }), "just now", "a timestamp ahead of the clock is not negative");
});
