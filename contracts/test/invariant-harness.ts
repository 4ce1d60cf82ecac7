/**
 * Shared machinery of the property tests: run settings, the test wrapper with its outcome counts,
 * and a harness bound to the chain for what every model step does: sending a transaction whose
 * outcome the model predicted (success, or a revert with a named custom error that must be mined and
 * move nothing), pinning block time, and keeping the expected token balances.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { Abi, Address, TransactionReceipt } from "viem";
import type { TestChain } from "../../packages/chain/src/testing.ts";
import type { Fixture, Sender } from "./fixture.ts";

/** Sequences per property (`VERITY_FC_RUNS`), and a fixed seed (`VERITY_FC_SEED`) so runs repeat. */
export const fcSettings = {
  numRuns: Number(process.env.VERITY_FC_RUNS ?? 200),
  seed: Number(process.env.VERITY_FC_SEED ?? 8128),
  endOnFailure: process.env.VERITY_FC_SHRINK === undefined,
};

export type Call = { address: Address; abi: Abi; functionName: string; args: readonly unknown[] };

/** Builds the `Call`s of one contract: `callsTo(address, abi)(functionName, args)`. */
export function callsTo(address: Address, abi: Abi): (functionName: string, args: readonly unknown[]) => Call {
  return (functionName, args) => ({ address, abi, functionName, args });
}

/** Outcome counts over all runs ("claim:ok(3)", "initiate:NotPayer", …), printed by `modelTest`. */
export type Outcomes = { count(key: string): void; summary(): string };

export function outcomes(): Outcomes {
  const counts = new Map<string, number>();
  return {
    count: (key) => counts.set(key, (counts.get(key) ?? 0) + 1),
    summary: () => JSON.stringify(Object.fromEntries([...counts].sort())),
  };
}

/**
 * Registers the model test: `run` on `fcSettings.numRuns` sequences from `sequences`, then a
 * diagnostic with the run count, the time taken and what the runs exercised.
 */
export function modelTest<T>(
  name: string,
  sequences: fc.Arbitrary<T>,
  run: (sequence: T) => Promise<void>,
  seen: Outcomes,
): void {
  test(name, { timeout: 600_000 }, async (ctx) => {
    const started = performance.now();
    await fc.assert(fc.asyncProperty(sequences, run), fcSettings);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    ctx.diagnostic(`runs: ${fcSettings.numRuns} in ${seconds}s; outcomes: ${seen.summary()}`);
  });
}

export type Harness = ReturnType<typeof harness>;

/** The step helpers of a model test on chain `t` with fixture `f`. */
export function harness(t: TestChain, f: Fixture) {
  /** Reads the token balances of `accounts` in parallel. */
  async function balancesOf(accounts: readonly Address[]): Promise<Map<Address, bigint>> {
    const values = await Promise.all(accounts.map((a) => f.balanceOf(a)));
    return new Map(accounts.map((a, i) => [a, values[i] ?? 0n]));
  }

  return {
    balancesOf,

    /** Expected token balances of `accounts`, starting from the chain's; `credit` moves them as the model predicts. */
    async expectedBalances(accounts: readonly Address[]) {
      const balances = await balancesOf(accounts);
      const credit = (account: Address, amount: bigint) =>
        balances.set(account, (balances.get(account) ?? 0n) + amount);
      return { balances, credit };
    },

    /**
     * Sends `call` from `from` with a fixed gas limit (no estimation, so the outcome is decided by
     * the mined block alone) and checks it against the prediction: success, or a revert with
     * `expectedError`.
     */
    async sendPredicted(
      from: string | Sender,
      call: Call,
      expectedError: string | undefined,
    ): Promise<TransactionReceipt> {
      if (expectedError !== undefined) {
        const { errorName, receipt } = await f.sendReverting(from, call);
        assert.equal(errorName, expectedError, `${call.functionName} reverted with ${errorName}`);
        return receipt;
      }
      const sender = typeof from === "string" ? f.wallet(from) : from;
      const hash = await sender.writeContract({ ...call, gas: 5_000_000n } as never);
      const receipt = await f.publicClient.waitForTransactionReceipt({ hash });
      assert.equal(receipt.status, "success", `${call.functionName} reverted`);
      return receipt;
    },

    /** Pins the next block's timestamp to latest + 1 and returns it, so time checks are predictable. */
    async pinNextTimestamp(): Promise<bigint> {
      const latest = (await f.publicClient.getBlock({ blockTag: "latest" })).timestamp;
      await t.testClient.setNextBlockTimestamp({ timestamp: latest + 1n });
      return latest + 1n;
    },

    /** Timestamp of the block that included `receipt`. */
    async blockTime(receipt: TransactionReceipt): Promise<bigint> {
      return (await f.publicClient.getBlock({ blockNumber: receipt.blockNumber })).timestamp;
    },
  };
}
