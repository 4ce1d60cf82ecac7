import assert from "node:assert/strict";
import { test } from "node:test";
import { formatAmount } from "./format-amount.ts";
import { formatTable } from "./table.ts";

test("amounts read as decimals of the 6-decimal payment token", () => {
  assert.equal(formatAmount(0n), "0");
  assert.equal(formatAmount(1n), "0.000001");
  assert.equal(formatAmount(1_234_500_000n), "1,234.5");
  assert.equal(formatAmount(1_000_000_000_000n), "1,000,000");
  assert.equal(formatAmount(-2_500_000n), "-2.5");
  assert.equal(formatAmount(10n ** 18n, 18), "1");
});

test("tables pad columns and right-align amounts", () => {
  const text = formatTable({
    columns: ["id", "amount"],
    rows: [
      ["1", "5"],
      ["22", "1,000"],
    ],
    right: ["amount"],
  });
  assert.equal(text, "id  amount\n1        5\n22   1,000");
});
