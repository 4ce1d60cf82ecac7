/**
 * Chain-time keeper for the deterrence simulation: watches the Disputes contract and, instead of
 * waiting out the commit and reveal windows on the wall clock, moves chain time forward
 * (`evm_increaseTime` + `evm_mine`) as soon as every committee member has committed (to the end of
 * the commit window) and revealed (past the end of the reveal window), so the validators reveal and
 * resolve on their own a moment later. Records every verdict (DisputeResolved) as it lands.
 */
import { disputesAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import { createPublicClient, http } from "viem";

/** A resolved dispute as the keeper saw it land. */
export type Verdict = {
  disputeId: bigint;
  agentId: string;
  guilty: boolean;
  payer: `0x${string}`;
  slashed: bigint;
  refunded: bigint;
  /** Wall-clock milliseconds (performance.now()) when the keeper saw it. */
  seenAt: number;
};

const OPEN = 1;

export function createDisputeKeeper(options: {
  rpcUrl: string;
  deployment: Deployment;
  /** Called once per verdict, right when it is seen. */
  onVerdict?: (verdict: Verdict) => void;
  onInfo?: (line: string) => void;
  pollMs?: number;
}) {
  const client = createPublicClient({ transport: http(options.rpcUrl) });
  const address = options.deployment.contracts.Disputes.address;
  const read = <T>(functionName: string, args: readonly unknown[] = []) =>
    client.readContract({ address, abi: disputesAbi, functionName, args } as never) as Promise<T>;
  const verdicts: Verdict[] = [];
  const done = new Set<bigint>();
  let advancedSeconds = 0;
  let stopped = false;
  let loop: Promise<void> | undefined;

  async function advanceTo(target: number, now: number, why: string) {
    const delta = target - now;
    if (delta <= 0) return;
    await client.request({ method: "evm_increaseTime", params: [delta] } as never);
    await client.request({ method: "evm_mine", params: [] } as never);
    advancedSeconds += delta;
    options.onInfo?.(`  chain time +${delta} s (${why})`);
  }

  /**
   * One look at every open dispute, then at most one jump: to the earliest point one of them is
   * waiting for (its commit window's end once all its votes are committed, its reveal window's end
   * once all are revealed), and only while no open dispute still waits for a vote: a jump shortens
   * every younger dispute's window, so the keeper holds still until their committees have voted.
   */
  async function tick(windows: { commit: number; reveal: number }) {
    const count = await read<bigint>("disputeCount");
    const now = Number((await client.getBlock({ blockTag: "latest" })).timestamp);
    let target = Number.POSITIVE_INFINITY;
    let waiting = false;
    let why = "";
    for (let id = 1n; id <= count; id++) {
      if (done.has(id)) continue;
      const d = await read<{ drawnAt: number; status: number }>("getDispute", [id]);
      if (d.status !== OPEN) {
        done.add(id);
        continue;
      }
      if (Number(d.drawnAt) === 0) {
        waiting = true; // the challenger draws the committee first; the windows start then
        continue;
      }
      const members = await read<readonly `0x${string}`[]>("committeeOf", [id]);
      const votes = await Promise.all(
        members.map((m) => read<{ committed: boolean; revealed: boolean }>("voteOf", [id, m])),
      );
      const commitEnd = Number(d.drawnAt) + windows.commit;
      const revealEnd = commitEnd + windows.reveal;
      const committed = votes.every((v) => v.committed);
      // A member that missed its commit can no longer reveal: nothing to wait for.
      const revealed = votes.every((v) => v.revealed || !v.committed);
      if ((now <= commitEnd && !committed) || (now > commitEnd && now <= revealEnd && !revealed)) waiting = true;
      if (committed && now <= commitEnd && commitEnd + 1 < target) {
        target = commitEnd + 1;
        why = `dispute ${id}: all ${members.length} votes committed`;
      } else if (revealed && now > commitEnd && now <= revealEnd && revealEnd + 1 < target) {
        target = revealEnd + 1;
        why = `dispute ${id}: all votes revealed`;
      }
    }
    if (!Number.isFinite(target) || waiting) return;
    // A challenge opened meanwhile needs its whole commit window: look again next time.
    if ((await read<bigint>("disputeCount")) !== count) return;
    await advanceTo(target, now, why);
  }

  async function collect(fromBlock: bigint): Promise<bigint> {
    const latest = await client.getBlockNumber();
    if (latest < fromBlock) return fromBlock;
    const logs = await client.getContractEvents({
      address,
      abi: disputesAbi,
      eventName: "DisputeResolved",
      fromBlock,
      toBlock: latest,
    });
    for (const log of logs) {
      const args = log.args as {
        disputeId: bigint;
        agentId: bigint;
        guilty: boolean;
        slashed: bigint;
        refunded: bigint;
      };
      const d = await read<{ payer: `0x${string}` }>("getDispute", [args.disputeId]);
      const verdict: Verdict = {
        disputeId: args.disputeId,
        agentId: args.agentId.toString(),
        guilty: args.guilty,
        payer: d.payer,
        slashed: args.slashed,
        refunded: args.refunded,
        seenAt: performance.now(),
      };
      verdicts.push(verdict);
      options.onVerdict?.(verdict);
    }
    return latest + 1n;
  }

  return {
    /** Starts polling (every `pollMs`, default 500). */
    start(): void {
      loop = (async () => {
        const windows = {
          commit: Number(await read<bigint>("commitWindow")),
          reveal: Number(await read<bigint>("revealWindow")),
        };
        let fromBlock = await client.getBlockNumber();
        while (!stopped) {
          try {
            await tick(windows);
            fromBlock = await collect(fromBlock);
          } catch (error) {
            options.onInfo?.(`  keeper: ${(error as Error)?.message?.split("\n")[0] ?? error}`);
          }
          await new Promise((r) => setTimeout(r, options.pollMs ?? 500));
        }
        await collect(fromBlock).catch(() => fromBlock);
      })();
    },
    /** Disputes still open on chain. */
    async openDisputes(): Promise<number> {
      const count = await read<bigint>("disputeCount");
      let open = 0;
      for (let id = 1n; id <= count; id++) {
        const d = await read<{ status: number }>("getDispute", [id]);
        if (d.status === OPEN) open++;
      }
      return open;
    },
    /** Stops polling after one last look for verdicts. */
    async stop(): Promise<void> {
      stopped = true;
      await loop;
    },
    verdicts: (): readonly Verdict[] => verdicts,
    /** Chain seconds the keeper skipped. */
    advancedSeconds: () => advancedSeconds,
  };
}

export type DisputeKeeper = ReturnType<typeof createDisputeKeeper>;
