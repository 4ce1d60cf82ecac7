/** Small chain helpers for contract tests: per-test rewinding and decoding constructor reverts. */
import { type Abi, decodeErrorResult, encodeDeployData, type Hex } from "viem";
import type { TestChain } from "../../packages/chain/src/testing.ts";

/** A `beforeEach` hook that rewinds the chain to the state it had when the hook first ran. */
export function rewinder(t: TestChain): () => Promise<void> {
  let restore: (() => Promise<void>) | undefined;
  return async () => {
    if (restore) await restore();
    restore = await t.snapshot();
  };
}

/** The custom error a deployment of `bytecode` with `args` reverts with (simulated), or undefined. */
export async function deployRevertName(
  t: TestChain,
  contract: { abi: Abi; bytecode: Hex },
  args: readonly unknown[],
): Promise<string | undefined> {
  const data = encodeDeployData({ abi: contract.abi, bytecode: contract.bytecode, args } as never);
  try {
    await t.publicClient.call({ account: t.account("deployer").address, data });
    return undefined;
  } catch (error) {
    // The node's error (wrapped by viem as an unknown RPC error) carries the revert data.
    let cause: unknown = error;
    while (cause instanceof Error) {
      const data = (cause as { data?: unknown }).data;
      if (typeof data === "string" && data.startsWith("0x")) {
        return decodeErrorResult({ abi: contract.abi, data: data as Hex }).errorName;
      }
      cause = cause.cause;
    }
    throw error;
  }
}
