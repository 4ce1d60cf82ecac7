import { fileURLToPath } from "node:url";
import { ChainError, ConfigError } from "@verity/core";
import { createHardhatRuntimeEnvironment } from "hardhat/hre";
import type { EIP1193Provider } from "viem";
import { type GenesisRecord, openJournal } from "./chain-journal.ts";
import { type ReplayReport, replayJournal } from "./chain-replay.ts";
import { createJournaledProvider, readHead } from "./journaled-provider.ts";

/** A funded account of an embedded chain. */
export type GenesisAccount = { privateKey: `0x${string}`; balance: bigint };

export type EdrChainOptions = {
  /** Chain id the embedded chain reports (default 31337). */
  chainId?: number;
  /** Accounts funded with native currency at genesis. */
  accounts: readonly GenesisAccount[];
  /** Block gas limit (default 60M, so a 1,000-channel claim fits in one block). */
  blockGasLimit?: bigint;
  /** Mine a block per transaction (default) or on an interval in milliseconds. */
  intervalMs?: number;
  /** Unix seconds of the genesis block (default: now). */
  genesisTimestamp?: number;
  /**
   * Folder that makes the chain persistent: `genesis.json` and `journal.jsonl` (every state-changing
   * request, fsync'd before it is answered). A folder that already holds a chain is replayed, and
   * its genesis wins over `accounts`, `blockGasLimit` and `genesisTimestamp`; a different chain id
   * fails with `state_dir_chain_mismatch`. Requires automine (no `intervalMs`).
   */
  journalDir?: string;
};

export type EdrChain = {
  chainId: number;
  /** EIP-1193 provider backed by the in-process Hardhat EDR node. */
  provider: EIP1193Provider;
  /** Present when the chain is persistent: whether it was restored, and the replay's figures. */
  persistence?: { dir: string; restored: boolean; replay: ReplayReport };
  close(): Promise<void>;
};

const HARDFORK = "prague";
const INITIAL_BASE_FEE = 1_000_000n;
/** Hardhat resolves plugins from a project root: this package's folder, so any working directory works. */
const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));

async function connectEdr(args: {
  chainId: number;
  accounts: readonly GenesisAccount[];
  blockGasLimit: bigint;
  genesisTimestamp: number | undefined;
  intervalMs: number | undefined;
}) {
  const hre = await createHardhatRuntimeEnvironment(
    {
      networks: {
        verity: {
          type: "edr-simulated",
          chainType: "l1",
          chainId: args.chainId,
          hardfork: HARDFORK,
          blockGasLimit: args.blockGasLimit,
          transactionGasCap: false,
          initialBaseFeePerGas: INITIAL_BASE_FEE,
          accounts: args.accounts.map((a) => ({ privateKey: a.privateKey, balance: a.balance })),
          mining: args.intervalMs === undefined ? { auto: true } : { auto: false, interval: args.intervalMs },
          ...(args.genesisTimestamp === undefined ? {} : { initialDate: new Date(args.genesisTimestamp * 1000) }),
        },
      },
    },
    {},
    PROJECT_ROOT,
  );
  return hre.network.connect({ network: "verity" });
}

function sameGenesis(record: GenesisRecord, accounts: readonly GenesisAccount[]): boolean {
  return (
    record.accounts.length === accounts.length &&
    record.accounts.every(
      (a, i) =>
        a.privateKey.toLowerCase() === accounts[i]?.privateKey.toLowerCase() &&
        a.balance === String(accounts[i]?.balance),
    )
  );
}

/**
 * Starts an in-process Hardhat EDR chain; no port is opened (expose it with `createRpcServer`).
 * Without `journalDir` nothing is written to disk; with it the chain survives restarts and crashes.
 */
export async function createEdrChain(options: EdrChainOptions): Promise<EdrChain> {
  const chainId = options.chainId ?? 31337;
  if (options.journalDir === undefined) {
    const connection = await connectEdr({
      chainId,
      accounts: options.accounts,
      blockGasLimit: options.blockGasLimit ?? 60_000_000n,
      genesisTimestamp: options.genesisTimestamp,
      intervalMs: options.intervalMs,
    });
    return { chainId, provider: connection.provider as unknown as EIP1193Provider, close: () => connection.close() };
  }
  if (options.intervalMs !== undefined) {
    throw new ConfigError("A persistent chain mines a block per transaction; interval mining cannot be journaled", {
      code: "invalid_parameter",
      hint: "Drop intervalMs or journalDir",
    });
  }
  const dir = options.journalDir;
  const journal = await openJournal(dir);
  const saved = journal.genesis;
  if (saved && saved.chainId !== chainId) {
    await journal.close();
    throw new ConfigError(`The state folder ${dir} holds chain ${saved.chainId}, not chain ${chainId}`, {
      code: "state_dir_chain_mismatch",
      hint: `Pass another --state-dir, or delete ${dir} to start chain ${chainId} afresh`,
      details: { dir, chainId: saved.chainId, requested: chainId },
    });
  }
  if (saved && !sameGenesis(saved, options.accounts)) {
    await journal.close();
    throw new ConfigError(`The state folder ${dir} holds a chain with other genesis accounts`, {
      code: "state_dir_chain_mismatch",
      hint: `Pass another --state-dir, or delete ${dir} to start afresh`,
      details: { dir },
    });
  }
  const genesis: GenesisRecord = saved ?? {
    version: 1,
    chainId,
    genesisTimestamp: options.genesisTimestamp ?? Math.floor(Date.now() / 1000),
    hardfork: HARDFORK,
    blockGasLimit: String(options.blockGasLimit ?? 60_000_000n),
    initialBaseFeePerGas: String(INITIAL_BASE_FEE),
    accounts: options.accounts.map((a) => ({ privateKey: a.privateKey, balance: String(a.balance) })),
  };
  const connection = await connectEdr({
    chainId,
    accounts: genesis.accounts.map((a) => ({ privateKey: a.privateKey as `0x${string}`, balance: BigInt(a.balance) })),
    blockGasLimit: BigInt(genesis.blockGasLimit),
    genesisTimestamp: genesis.genesisTimestamp,
    intervalMs: undefined,
  });
  const inner = connection.provider as unknown as EIP1193Provider;
  try {
    const block0 = await readHead(inner, "0x0");
    if (genesis.genesisHash === undefined) journal.writeGenesis({ ...genesis, genesisHash: block0.hash });
    else if (genesis.genesisHash !== block0.hash) {
      throw new ChainError(`The genesis block of ${dir} is ${genesis.genesisHash}, this chain builds ${block0.hash}`, {
        code: "state_replay_mismatch",
        hint: `The chain software changed since the state was written: delete ${dir} or pass another --state-dir`,
      });
    }
    const replay = await replayJournal({ provider: inner, entries: journal.entries, dir });
    const provider = createJournaledProvider({
      inner,
      journal,
      head: await readHead(inner),
      nextSeq: journal.entries.length,
    });
    return {
      chainId,
      provider,
      persistence: { dir, restored: journal.entries.length > 0, replay },
      async close() {
        await provider.close();
        await journal.close();
        await connection.close();
      },
    };
  } catch (error) {
    await journal.close();
    await connection.close();
    throw error;
  }
}
