import { ChainError, ConfigError, contractErrorReason } from "@verity/core";
import {
  type Abi,
  type Account,
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  custom,
  type EIP1193Provider,
  formatEther,
  getAddress,
  type Hex,
  http,
  type Transport,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { devnetChain } from "./devnet-chain.ts";

export type ConnectOptions = {
  rpcUrl?: string;
  provider?: EIP1193Provider;
  account: Hex | Account;
  expectedChainId?: number;
  /** Milliseconds to wait for the RPC endpoint (default 5,000). */
  timeoutMs?: number;
};

function transportFor(options: ConnectOptions): Transport {
  if (options.provider) return custom(options.provider, { retryCount: 0 });
  const url = options.rpcUrl;
  if (!url || !/^https?:\/\/[^\s]+$/.test(url)) {
    throw new ConfigError(`RPC URL ${JSON.stringify(url ?? "")} is not an http(s) URL`, {
      code: "invalid_parameter",
      hint: "Pass --rpc http://host:port (for example http://127.0.0.1:8545)",
    });
  }
  return http(url, { timeout: options.timeoutMs ?? 5_000, retryCount: 1 });
}

/**
 * Connects to a chain with an account, checking that the endpoint answers and is the expected
 * chain. Returns viem clients plus helpers that turn failures into Verity errors with reason codes.
 */
export async function connectChain(options: ConnectOptions) {
  const transport = transportFor(options);
  const account = typeof options.account === "string" ? privateKeyToAccount(options.account) : options.account;
  const probe = createPublicClient({ transport });
  let chainId: number;
  try {
    chainId = await probe.getChainId();
  } catch (cause) {
    throw new ChainError(`The RPC endpoint ${options.rpcUrl ?? "(provider)"} did not answer`, {
      code: "rpc_unreachable",
      hint: "Check the URL and that the node is running (start a local one with `verity devnet`)",
      cause,
    });
  }
  if (options.expectedChainId !== undefined && chainId !== options.expectedChainId) {
    throw new ChainError(`The RPC endpoint is chain ${chainId}, expected ${options.expectedChainId}`, {
      code: "chain_id_mismatch",
      hint: "Point --rpc at the right network or fix the expected chain id",
      details: { chainId, expectedChainId: options.expectedChainId },
    });
  }
  const chain = devnetChain({ chainId, ...(options.rpcUrl === undefined ? {} : { rpcUrl: options.rpcUrl }) });
  const publicClient = createPublicClient({ chain, transport, pollingInterval: options.provider ? 20 : 250 });
  const walletClient = createWalletClient({ chain, transport, account });

  /** Refuses to go on when the account cannot pay for `gas` at the current gas price. */
  async function requireFunds(args: { gas: bigint; what: string }): Promise<void> {
    const [balance, gasPrice] = await Promise.all([
      publicClient.getBalance({ address: account.address }),
      publicClient.getGasPrice(),
    ]);
    const needed = args.gas * gasPrice;
    if (balance < needed) {
      throw new ChainError(
        `Account ${account.address} has ${formatEther(balance)} ETH but needs about ${formatEther(needed)} ETH to ${args.what}`,
        {
          code: "account_unfunded",
          hint: "Fund the account with native currency for gas, or use another key",
          details: { address: account.address, balance: balance.toString(), needed: needed.toString() },
        },
      );
    }
  }

  /** Sends a transaction built by `send` and waits for it; a revert becomes a ChainError with the contract's reason. */
  async function transact(what: string, send: () => Promise<Hex>) {
    let hash: Hex;
    try {
      hash = await send();
    } catch (cause) {
      throw toChainError(what, cause);
    }
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") {
      throw new ChainError(`${what} reverted in transaction ${hash}`, { code: "transaction_reverted" });
    }
    return receipt;
  }

  async function deployContract(args: { name: string; abi: Abi; bytecode: Hex; args: readonly unknown[] }) {
    const receipt = await transact(`Deploying ${args.name}`, () =>
      walletClient.deployContract({ abi: args.abi, bytecode: args.bytecode, args: args.args as never } as never),
    );
    if (!receipt.contractAddress)
      throw new ChainError(`Deploying ${args.name} created no contract`, { code: "transaction_reverted" });
    return { address: getAddress(receipt.contractAddress), block: Number(receipt.blockNumber) };
  }

  return { chainId, chain, transport, account, publicClient, walletClient, requireFunds, transact, deployContract };
}

export type ChainClients = Awaited<ReturnType<typeof connectChain>>;

/** Maps a viem error to a ChainError whose code is the contract's custom error when there is one. */
export function toChainError(what: string, cause: unknown): ChainError {
  if (cause instanceof BaseError) {
    const revert = cause.walk((e) => e instanceof ContractFunctionRevertedError);
    if (revert instanceof ContractFunctionRevertedError) {
      const name = revert.data?.errorName;
      return new ChainError(`${what} reverted with ${name ?? revert.reason ?? "no reason"}`, {
        code: contractErrorReason(name),
        details: { error: name, args: revert.data?.args?.map(String) },
        cause,
      });
    }
    return new ChainError(`${what} failed: ${cause.shortMessage}`, { code: "transaction_reverted", cause });
  }
  return new ChainError(`${what} failed: ${String(cause)}`, { code: "transaction_reverted", cause });
}
