/**
 * Shared helpers for the contract tests: typed contract handles per devnet account, mined-transaction
 * assertions and event extraction.
 */
import assert from "node:assert/strict";
import { type Abi, type Address, getContract, type Hex, parseEventLogs, type TransactionReceipt } from "viem";
import type { TestChain } from "../../packages/chain/src/testing.ts";

/** A typed viem contract instance that reads through the chain and writes as devnet account `from`. */
export function contractAs<const abi extends Abi>(chain: TestChain, abi: abi, address: Address, from: string) {
  return getContract({ address, abi, client: { public: chain.publicClient, wallet: chain.wallet(from) } });
}

/** Awaits a transaction hash, waits for its receipt and asserts it succeeded. */
export async function mined(chain: TestChain, hash: Promise<Hex>): Promise<TransactionReceipt> {
  const receipt = await chain.publicClient.waitForTransactionReceipt({ hash: await hash });
  assert.equal(receipt.status, "success");
  return receipt;
}

/** The decoded events named `eventName` in `receipt`. */
export function eventsOf<const abi extends Abi>(abi: abi, receipt: TransactionReceipt, eventName: string) {
  return parseEventLogs({ abi, logs: receipt.logs }).filter((log) => log.eventName === eventName);
}

/** Timestamp of the latest block. */
export async function now(chain: TestChain): Promise<bigint> {
  return (await chain.publicClient.getBlock()).timestamp;
}
