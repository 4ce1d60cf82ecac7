import type { DatabaseSync } from "node:sqlite";
import { erc20Abi, type PublicClient, parseEventLogs } from "viem";
import type { PrepaidLedger } from "./prepaid-ledger.ts";

/**
 * Credits prepaid balances from on-chain deposits: every transfer of the payment token to the
 * gateway's address credits its sender, once (keyed by transaction and log index), resuming from
 * the last scanned block after a restart.
 */
export function createDepositWatcher(options: {
  db: DatabaseSync;
  ledger: PrepaidLedger;
  publicClient: PublicClient;
  token: `0x${string}`;
  gateway: `0x${string}`;
  startBlock: bigint;
  pollMs?: number;
  onDeposit?: (d: { from: string; amount: bigint; txHash: string }) => void;
}) {
  options.db.exec(
    "CREATE TABLE IF NOT EXISTS deposit_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), block TEXT NOT NULL)",
  );
  let timer: NodeJS.Timeout | undefined;
  const cursor = () => {
    const row = options.db.prepare("SELECT block FROM deposit_cursor WHERE id = 1").get() as
      | { block: string }
      | undefined;
    return row ? BigInt(row.block) : options.startBlock - 1n;
  };

  async function scan(): Promise<number> {
    const head = await options.publicClient.getBlockNumber({ cacheTime: 0 });
    const from = cursor() + 1n;
    if (from > head) return 0;
    const logs = await options.publicClient.getLogs({
      address: options.token,
      event: erc20Abi.find((e) => e.type === "event" && e.name === "Transfer") as (typeof erc20Abi)[number] & {
        type: "event";
      },
      args: { to: options.gateway },
      fromBlock: from,
      toBlock: head,
    });
    let credited = 0;
    for (const log of parseEventLogs({ abi: erc20Abi, logs, eventName: "Transfer" })) {
      const ref = `${log.transactionHash}:${log.logIndex}`;
      if (options.ledger.credit({ owner: log.args.from, amount: log.args.value, ref })) {
        credited++;
        options.onDeposit?.({ from: log.args.from, amount: log.args.value, txHash: log.transactionHash });
      }
    }
    options.db
      .prepare(
        "INSERT INTO deposit_cursor (id, block) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET block = excluded.block",
      )
      .run(head.toString());
    return credited;
  }

  return {
    scan,
    start(): void {
      const tick = async () => {
        try {
          await scan();
        } catch {
          // RPC hiccup: the next tick retries from the same cursor
        }
        timer = setTimeout(tick, options.pollMs ?? 1_000);
        timer.unref();
      };
      void tick();
    },
    stop(): void {
      if (timer) clearTimeout(timer);
    },
  };
}
