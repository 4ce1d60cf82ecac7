/**
 * Chain time for dispute deadlines: the latest block's timestamp, advanced by the local time elapsed
 * since that block was first seen (a devnet that only mines on demand has no new block to read).
 * Deadlines are still enforced by the contract: a call made too early reverts and is retried.
 */
import type { ChainClients } from "@verity/chain";

export function createChainClock(options: { publicClient: ChainClients["publicClient"]; now?: () => number }) {
  const local = options.now ?? Date.now;
  let seen: { number: bigint; timestamp: number; at: number } | undefined;
  return {
    /** Estimated chain time in seconds. */
    async now(): Promise<number> {
      const block = await options.publicClient.getBlock({ blockTag: "latest" });
      if (!seen || block.number !== seen.number) {
        seen = { number: block.number, timestamp: Number(block.timestamp), at: local() };
      }
      return seen.timestamp + Math.floor((local() - seen.at) / 1000);
    },
  };
}

export type ChainClock = ReturnType<typeof createChainClock>;
