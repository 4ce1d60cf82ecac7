/**
 * An EIP-1193 provider that journals every state-changing request before answering it. Writes run
 * one at a time and exclude reads, so nobody (an indexer, a wallet) sees a block before it is on
 * disk: after a crash the replayed chain is never behind what a store already recorded.
 */
import type { EIP1193Provider } from "viem";
import type { Journal, JournalEntry } from "./chain-journal.ts";

/** Requests that change chain state (EDR's `eth_`, `evm_` and `hardhat_` methods). */
export const STATE_CHANGING_METHODS: ReadonlySet<string> = new Set([
  "eth_sendRawTransaction",
  "eth_sendTransaction",
  "evm_mine",
  "hardhat_mine",
  "evm_increaseTime",
  "evm_setNextBlockTimestamp",
  "evm_snapshot",
  "evm_revert",
  "evm_setAutomine",
  "evm_setBlockGasLimit",
  "hardhat_setBalance",
  "hardhat_setCode",
  "hardhat_setNonce",
  "hardhat_setStorageAt",
  "hardhat_setCoinbase",
  "hardhat_setNextBlockBaseFeePerGas",
  "hardhat_setPrevRandao",
  "hardhat_setMinGasPrice",
  "hardhat_impersonateAccount",
  "hardhat_stopImpersonatingAccount",
  "hardhat_dropTransaction",
  "hardhat_dropAllTransactions",
]);

/** Requests a journal cannot reproduce: they are refused on a persistent chain. */
export const UNJOURNALED_METHODS: ReadonlySet<string> = new Set(["hardhat_reset", "evm_setIntervalMining"]);

export type Head = { number: number; hash: `0x${string}`; timestamp: number };

type RpcBlock = { number: `0x${string}`; hash: `0x${string}`; timestamp: `0x${string}` };

type Request = { method: string; params?: unknown };

/** Reads a block (default: the latest) straight from `provider`. */
export async function readHead(provider: EIP1193Provider, tag: string = "latest"): Promise<Head> {
  const block = (await provider.request({ method: "eth_getBlockByNumber", params: [tag, false] } as never)) as RpcBlock;
  return { number: Number(block.number), hash: block.hash, timestamp: Number(block.timestamp) };
}

/** Chain time minus wall time in seconds, as EDR keeps it (`evm_increaseTime 0` reports it). */
export async function readTimeOffset(provider: EIP1193Provider): Promise<number> {
  return Number(await provider.request({ method: "evm_increaseTime", params: [0] } as never));
}

/** Readers share the chain; a writer has it alone; everyone is served in arrival order. */
function createGate() {
  let readers = 0;
  let writer = false;
  const queue: { write: boolean; go: () => void }[] = [];
  function pump(): void {
    while (queue.length > 0) {
      const next = queue[0] as { write: boolean; go: () => void };
      if (writer || (next.write && readers > 0)) return;
      queue.shift();
      if (next.write) writer = true;
      else readers++;
      next.go();
      if (next.write) return;
    }
  }
  return {
    async run<T>(write: boolean, fn: () => Promise<T>): Promise<T> {
      await new Promise<void>((go) => {
        queue.push({ write, go });
        pump();
      });
      try {
        return await fn();
      } finally {
        if (write) writer = false;
        else readers--;
        pump();
      }
    },
  };
}

function unsupported(method: string): Error {
  return Object.assign(new Error(`${method} is not supported on a persistent chain (it cannot be replayed)`), {
    code: -32601,
  });
}

/**
 * Wraps `inner` so each state-changing request is appended to `journal` (with the head it produced,
 * the first mined block's timestamp and the chain's time offset) before its answer is returned.
 */
export function createJournaledProvider(options: {
  inner: EIP1193Provider;
  journal: Journal;
  /** The chain's head when wrapping starts. */
  head: Head;
  /** Sequence number of the next entry. */
  nextSeq: number;
}): EIP1193Provider & { close(): Promise<void> } {
  const { inner, journal } = options;
  const gate = createGate();
  let head = options.head;
  let seq = options.nextSeq;
  let closed = false;

  async function write(request: Request): Promise<unknown> {
    const before = head;
    let result: unknown;
    let error: unknown;
    let failed = false;
    try {
      result = await inner.request(request as never);
    } catch (cause) {
      error = cause;
      failed = true;
    }
    const after = await readHead(inner);
    if (!failed || after.hash !== before.hash) {
      let mined: number | undefined;
      if (after.number > before.number) {
        mined =
          after.number === before.number + 1
            ? after.timestamp
            : (await readHead(inner, `0x${(before.number + 1).toString(16)}`)).timestamp;
      }
      const entry: JournalEntry = {
        seq: seq++,
        method: request.method,
        params: request.params ?? [],
        ...(failed ? { failed: true as const } : {}),
        ...(mined === undefined ? {} : { mined }),
        head: { number: after.number, hash: after.hash },
        offset: await readTimeOffset(inner),
        at: Date.now(),
      };
      await journal.append(entry);
    }
    head = after;
    if (failed) throw error;
    return result;
  }

  const provider = {
    async request(request: Request): Promise<unknown> {
      if (closed) throw Object.assign(new Error("The chain is stopped"), { code: -32603 });
      if (UNJOURNALED_METHODS.has(request.method)) throw unsupported(request.method);
      const writes = STATE_CHANGING_METHODS.has(request.method);
      return gate.run(writes, () => (writes ? write(request) : inner.request(request as never)));
    },
    on: inner.on?.bind(inner),
    removeListener: inner.removeListener?.bind(inner),
    /** Refuses new requests and resolves once every earlier one has been answered (and journaled). */
    async close(): Promise<void> {
      closed = true;
      await gate.run(true, async () => {});
    },
  };
  return provider as unknown as EIP1193Provider & { close(): Promise<void> };
}
