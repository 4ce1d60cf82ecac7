/**
 * Guards the rule that every custom error of PaymentChannels, Staking, Disputes, GatewayDeposits, the model and dataset registries, the x402 batch settlement and the inference oracle has a test that
 * expects it: each error name must appear quoted in one of the contract test files.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  datasetRegistryAbi,
  disputesAbi,
  erc3009DepositCollectorAbi,
  gatewayDepositsAbi,
  inferenceOracleAbi,
  modelRegistryAbi,
  oracleMarketResolverAbi,
  paymentChannelsAbi,
  stakingAbi,
  x402BatchSettlementAbi,
} from "../generated/index.ts";

/** Errors of OpenZeppelin internals that no input can trigger through these contracts. */
const UNREACHABLE = new Set([
  "InvalidShortString",
  "StringTooLong",
  "ReentrancyGuardReentrantCall",
  "SafeERC20FailedOperation",
  "SafeCastOverflowedUintDowncast",
  // Multicall's delegatecall to this contract itself: the code is there, and reverts bubble up.
  "AddressEmptyCode",
  "FailedCall",
]);

test("every custom error of PaymentChannels, Staking, Disputes, GatewayDeposits, the model and dataset registries, the x402 batch settlement and the inference oracle is expected by a test", () => {
  const dir = dirname(fileURLToPath(import.meta.url));
  const sources = readdirSync(dir)
    .filter((name) => name.endsWith(".test.ts") && name !== "error-coverage.test.ts")
    .map((name) => readFileSync(join(dir, name), "utf8"))
    .join("\n");
  const missing: string[] = [];
  for (const [contract, abi] of [
    ["PaymentChannels", paymentChannelsAbi],
    ["Staking", stakingAbi],
    ["Disputes", disputesAbi],
    ["GatewayDeposits", gatewayDepositsAbi],
    ["ModelRegistry", modelRegistryAbi],
    ["DatasetRegistry", datasetRegistryAbi],
    ["X402BatchSettlement", x402BatchSettlementAbi],
    ["Erc3009DepositCollector", erc3009DepositCollectorAbi],
    ["InferenceOracle", inferenceOracleAbi],
    ["OracleMarketResolver", oracleMarketResolverAbi],
  ] as const) {
    for (const item of abi) {
      if (item.type !== "error" || UNREACHABLE.has(item.name)) continue;
      if (!sources.includes(`"${item.name}"`)) missing.push(`${contract}.${item.name}`);
    }
  }
  assert.deepEqual(missing, [], "errors without a test expecting them");
});
