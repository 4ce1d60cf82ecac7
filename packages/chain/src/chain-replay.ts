/**
 * Rebuilds a persistent chain from its journal: each entry is sent again with the recorded block
 * timestamp, and the head it reaches must be the recorded one, block hash for block hash (a block
 * hash commits to state, receipts and time, so equal hashes mean equal chains).
 */
import { ChainError } from "@verity/core";
import type { EIP1193Provider } from "viem";
import type { JournalEntry } from "./chain-journal.ts";
import { readHead, readTimeOffset } from "./journaled-provider.ts";

export type ReplayReport = {
  /** Entries replayed. */
  entries: number;
  /** Head block number after the replay. */
  blocks: number;
  ms: number;
};

function mismatch(message: string, details: Record<string, unknown>, dir: string): ChainError {
  return new ChainError(message, {
    code: "state_replay_mismatch",
    hint: `The saved chain in ${dir} does not replay to the same state: delete that folder or pass another --state-dir`,
    details,
  });
}

/**
 * Replays `entries` into a fresh chain built on the journal's genesis, then sets the chain's time
 * offset back to the recorded one, so chain time went on while the chain was stopped (as a public
 * chain's would) and deadlines signed against wall-clock time keep working.
 */
export async function replayJournal(options: {
  provider: EIP1193Provider;
  entries: readonly JournalEntry[];
  /** The journal's folder, named in errors. */
  dir: string;
}): Promise<ReplayReport> {
  const { provider, entries, dir } = options;
  const started = performance.now();
  const request = (method: string, params: unknown) => provider.request({ method, params } as never);
  let blocks = (await readHead(provider)).number;
  for (const entry of entries) {
    if (entry.mined !== undefined) await request("evm_setNextBlockTimestamp", [entry.mined]);
    try {
      await request(entry.method, entry.params ?? []);
    } catch (error) {
      if (!entry.failed) {
        throw mismatch(
          `Journal entry ${entry.seq} (${entry.method}) failed on replay: ${(error as Error)?.message ?? String(error)}`,
          { seq: entry.seq, method: entry.method },
          dir,
        );
      }
    }
    const head = await readHead(provider);
    if (head.hash !== entry.head.hash || head.number !== entry.head.number) {
      throw mismatch(
        `Journal entry ${entry.seq} (${entry.method}) replayed to block ${head.number} ${head.hash}, recorded ${entry.head.number} ${entry.head.hash}`,
        {
          seq: entry.seq,
          method: entry.method,
          expected: entry.head,
          actual: { number: head.number, hash: head.hash },
        },
        dir,
      );
    }
    blocks = head.number;
  }
  const last = entries.at(-1);
  if (last) {
    const ahead = last.offset - (await readTimeOffset(provider));
    if (ahead > 0) await request("evm_increaseTime", [ahead]);
  }
  return { entries: entries.length, blocks, ms: Math.round(performance.now() - started) };
}
