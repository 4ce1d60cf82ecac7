import { gatewayDepositsAbi } from "@verity/contracts";
import { BlockNotFoundError, type PublicClient, parseEventLogs } from "viem";
import { createDepositStore } from "./deposit-store.ts";
import type { PrepaidLedger } from "./prepaid-ledger.ts";
import type { GatewayStore } from "./store/index.ts";

const depositedEvent = gatewayDepositsAbi.find((e) => e.type === "event" && e.name === "Deposited") as Extract<
  (typeof gatewayDepositsAbi)[number],
  { type: "event"; name: "Deposited" }
>;

export type DepositWatcherOptions = {
  store: GatewayStore;
  ledger: PrepaidLedger;
  publicClient: PublicClient;
  /** The deployment's GatewayDeposits contract: only its `Deposited` events are deposits. */
  depositsContract: `0x${string}`;
  /** The deployment's payment token: a deposit of another token credits nothing. */
  token: `0x${string}`;
  /** This gateway's address: deposits for other gateways credit nothing here. */
  gateway: `0x${string}`;
  /** First block to scan (the GatewayDeposits deployment block). */
  startBlock: bigint;
  /** Only blocks at least this many below the head are scanned (default 0; the gateway passes its own default). */
  confirmations?: number;
  /** Most blocks per `getLogs` call (default 2,000). */
  maxRange?: number;
  pollMs?: number;
  onDeposit?: (d: { account: string; from: string; amount: bigint; txHash: string }) => void;
  /** A scan failed (it is retried on the next tick). */
  onError?: (error: unknown) => void;
  /** A credited deposit's block left the chain and the credit was taken back. */
  onReverted?: (d: { account: string; amount: bigint; ref: string }) => void;
};

/**
 * Credits prepaid balances from `Deposited` events of the deployment's GatewayDeposits contract
 * naming this gateway and the payment token — never from plain transfers, which also carry x402
 * settlements, refunds and mints to the gateway's address. Each deposit credits `account` once
 * (ref `txHash:logIndex`). Blocks are scanned in bounded ranges up to `head - confirmations`, the
 * cursor saved after each range, so a restart resumes. When the block at the cursor changed (a
 * reorg), the watcher walks back to the newest remembered block still on the chain, takes back the
 * credits above it, and scans again from there.
 *
 * Several replicas may run it on one database at once: each range is applied in one transaction
 * that first locks the cursor row and goes ahead only if the cursor is still where this scan found
 * it, so a range (or a rewind) is applied once, by whichever replica gets there first; the others
 * see the cursor moved and start over from it at their next scan. Credits are idempotent anyway
 * (the ledger's UNIQUE (reason, ref)).
 */
export function createDepositWatcher(options: DepositWatcherOptions) {
  const { ledger, publicClient } = options;
  const db = options.store;
  const store = createDepositStore({ gateway: options.gateway });
  const confirmations = BigInt(options.confirmations ?? 0);
  const maxRange = BigInt(options.maxRange ?? 2_000);
  if (maxRange < 1n) throw new RangeError("maxRange must be at least 1");
  const gateway = options.gateway.toLowerCase();
  const token = options.token.toLowerCase();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<number> | undefined;

  async function hashAt(block: bigint): Promise<string | undefined> {
    try {
      return (await publicClient.getBlock({ blockNumber: block })).hash ?? undefined;
    } catch (error) {
      // Only "no such block" means the chain no longer reaches it; a timeout or an RPC outage is
      // not a reorg and must never take credits back.
      if (error instanceof BlockNotFoundError) return undefined;
      throw error;
    }
  }

  type Cursor = { block: bigint; hash: string | null };
  const initial: Cursor = { block: options.startBlock - 1n, hash: null };
  const same = (a: Cursor | undefined, b: Cursor | undefined) => a?.block === b?.block && a?.hash === b?.hash;

  /**
   * The scan cursor after checking it is still on the chain, rewinding past a reorg if not; undefined
   * when another replica moved it meanwhile (this scan stops; the next one starts from there).
   */
  async function checkedCursor(): Promise<Cursor | undefined> {
    const cursor = await store.cursor(db);
    if (!cursor) return initial;
    if (cursor.hash === null || (await hashAt(cursor.block)) === cursor.hash) return cursor;
    let ancestor: Cursor = { block: options.startBlock - 1n, hash: null };
    for (const remembered of await store.blocksBelow(db, cursor.block)) {
      if ((await hashAt(remembered.block)) === remembered.hash) {
        ancestor = remembered;
        break;
      }
    }
    const reverted: { account: string; amount: bigint; ref: string }[] = [];
    const rewound = await db.transaction(async (tx) => {
      if (!same(await store.lockCursor(tx), cursor)) return false;
      reverted.length = 0;
      for (const gone of await store.dropAbove(tx, ancestor.block)) {
        if (await ledger.uncredit({ ref: gone.ref, tx })) {
          reverted.push({ account: gone.account, amount: gone.amount, ref: gone.ref });
        }
      }
      await store.setCursor(tx, ancestor.block, ancestor.hash);
      return true;
    });
    if (!rewound) return undefined;
    for (const r of reverted) options.onReverted?.(r);
    return ancestor;
  }

  /**
   * Scans `from..to` and moves the cursor from `at` to `to`; undefined when `to` is gone or another
   * replica moved the cursor meanwhile (nothing saved).
   */
  async function scanRange(at: Cursor, to: bigint): Promise<{ credited: number; cursor: Cursor } | undefined> {
    const from = at.block + 1n;
    // The range end's hash is read before the logs: if the chain moves in between, the next scan
    // sees another hash at the cursor and rescans.
    const endHash = await hashAt(to);
    if (endHash === undefined) return undefined; // the chain just got shorter: the next scan rewinds
    const logs = await publicClient.getLogs({
      address: options.depositsContract,
      event: depositedEvent,
      args: { gateway: options.gateway },
      fromBlock: from,
      toBlock: to,
    });
    type Credited = { account: string; from: string; amount: bigint; txHash: string };
    const credited: Credited[] = [];
    const applied = await db.transaction(async (tx) => {
      if (!same((await store.lockCursor(tx)) ?? initial, at)) return false;
      credited.length = 0;
      for (const log of parseEventLogs({ abi: gatewayDepositsAbi, logs, eventName: "Deposited" })) {
        if (log.address.toLowerCase() !== options.depositsContract.toLowerCase()) continue;
        if (log.args.gateway.toLowerCase() !== gateway || log.args.token.toLowerCase() !== token) continue;
        if (log.blockNumber === null || log.blockHash === null) continue;
        const ref = `${log.transactionHash}:${log.logIndex}`;
        if (await ledger.credit({ owner: log.args.account, amount: log.args.amount, ref, tx })) {
          await store.recordCredit(tx, {
            ref,
            account: log.args.account,
            amount: log.args.amount,
            block: log.blockNumber,
            blockHash: log.blockHash,
          });
          credited.push({
            account: log.args.account,
            from: log.args.from,
            amount: log.args.amount,
            txHash: log.transactionHash,
          });
        }
      }
      await store.setCursor(tx, to, endHash);
      return true;
    });
    if (!applied) return undefined;
    for (const d of credited) options.onDeposit?.(d);
    return { credited: credited.length, cursor: { block: to, hash: endHash } };
  }

  /** Scans every confirmed block not scanned yet, range by range; returns the deposits credited. */
  async function scanOnce(): Promise<number> {
    let cursor = await checkedCursor();
    if (!cursor) return 0;
    const safeHead = (await publicClient.getBlockNumber({ cacheTime: 0 })) - confirmations;
    let credited = 0;
    let span = maxRange;
    while (cursor.block < safeHead) {
      const from = cursor.block + 1n;
      const to = from + span - 1n < safeHead ? from + span - 1n : safeHead;
      let inRange: Awaited<ReturnType<typeof scanRange>>;
      try {
        inRange = await scanRange(cursor, to);
      } catch (error) {
        // A range the RPC will not answer (too many logs, a response size cap): halve it, down to
        // one block, so a flood of tiny deposits cannot stall crediting for everyone.
        if (span === 1n) throw error;
        span = span / 2n;
        continue;
      }
      if (inRange === undefined) break;
      credited += inRange.credited;
      cursor = inRange.cursor;
      if (span < maxRange) span = span * 2n > maxRange ? maxRange : span * 2n;
    }
    return credited;
  }

  /** One scan at a time: a scan asked for while one runs waits for it and runs after. */
  async function scan(): Promise<number> {
    while (running) await running.catch(() => {});
    running = scanOnce();
    try {
      return await running;
    } finally {
      running = undefined;
    }
  }

  return {
    scan,
    start(): void {
      stopped = false;
      const tick = async () => {
        try {
          await scan();
        } catch (error) {
          // RPC hiccup: the next tick retries from the saved cursor
          options.onError?.(error);
        }
        if (stopped) return;
        timer = setTimeout(tick, options.pollMs ?? 1_000);
        timer.unref();
      };
      void tick();
    },
    stop(): void {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
