import { createHardhatRuntimeEnvironment } from "hardhat/hre";
import type { EIP1193Provider } from "viem";

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
};

export type EdrChain = {
  chainId: number;
  /** EIP-1193 provider backed by the in-process Hardhat EDR node. */
  provider: EIP1193Provider;
  close(): Promise<void>;
};

/**
 * Starts an in-process Hardhat EDR chain. Nothing is written to disk and no port is opened; expose
 * it to other processes with `createRpcServer`.
 */
export async function createEdrChain(options: EdrChainOptions): Promise<EdrChain> {
  const chainId = options.chainId ?? 31337;
  const hre = await createHardhatRuntimeEnvironment(
    {
      networks: {
        verity: {
          type: "edr-simulated",
          chainType: "l1",
          chainId,
          hardfork: "prague",
          blockGasLimit: options.blockGasLimit ?? 60_000_000n,
          transactionGasCap: false,
          initialBaseFeePerGas: 1_000_000n,
          accounts: options.accounts.map((a) => ({ privateKey: a.privateKey, balance: a.balance })),
          mining: options.intervalMs === undefined ? { auto: true } : { auto: false, interval: options.intervalMs },
        },
      },
    },
    {},
  );
  const connection = await hre.network.connect({ network: "verity" });
  return {
    chainId,
    provider: connection.provider as unknown as EIP1193Provider,
    close: () => connection.close(),
  };
}
