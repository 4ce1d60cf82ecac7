/**
 * Test helpers: an in-process EDR chain with the devnet accounts funded, and viem clients on it.
 * Used by contract tests and by every package's integration tests.
 */
import {
  type Abi,
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createTestClient,
  createWalletClient,
  custom,
  type Hex,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { createChannelReader } from "./channel-reader.ts";
import { type DevnetAccount, devnetAccounts } from "./devnet-accounts.ts";
import { devnetChain } from "./devnet-chain.ts";
import { createEdrChain } from "./edr-chain.ts";

export async function createTestChain(options: { chainId?: number } = {}) {
  const accounts = devnetAccounts();
  const edr = await createEdrChain({
    ...(options.chainId === undefined ? {} : { chainId: options.chainId }),
    accounts: accounts.map((a) => ({ privateKey: a.privateKey, balance: 10_000n * 10n ** 18n })),
  });
  const chain = devnetChain({ chainId: edr.chainId });
  const transport = custom(edr.provider, { retryCount: 0 });
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 10 });
  const testClient = createTestClient({ chain, transport, mode: "hardhat" });
  const byName = new Map(accounts.map((a) => [a.name, a]));

  function account(name: string): DevnetAccount {
    const found = byName.get(name);
    if (!found) throw new Error(`no devnet account named ${name}`);
    return found;
  }
  function wallet(name: string) {
    return createWalletClient({ chain, transport, account: privateKeyToAccount(account(name).privateKey) });
  }
  async function deploy<const abi extends Abi>(args: {
    from: string;
    abi: abi;
    bytecode: Hex;
    args?: readonly unknown[];
  }): Promise<`0x${string}`> {
    const hash = await wallet(args.from).deployContract({
      abi: args.abi,
      bytecode: args.bytecode,
      args: (args.args ?? []) as never,
    } as never);
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (!receipt.contractAddress) throw new Error("deployment produced no contract address");
    return receipt.contractAddress;
  }
  /** Advances chain time by `seconds` and mines a block. */
  async function increaseTime(seconds: number | bigint): Promise<void> {
    await testClient.increaseTime({ seconds: Number(seconds) });
    await testClient.mine({ blocks: 1 });
  }
  async function snapshot(): Promise<() => Promise<void>> {
    const id = await testClient.snapshot();
    return async () => {
      await testClient.revert({ id });
    };
  }
  return {
    edr,
    chain,
    transport,
    publicClient,
    testClient,
    accounts,
    account,
    wallet,
    deploy,
    increaseTime,
    snapshot,
    close: () => edr.close(),
  };
}

export type TestChain = Awaited<ReturnType<typeof createTestChain>>;

/** The custom error name a failed contract call reverted with, or undefined. */
export function revertErrorName(error: unknown): string | undefined {
  if (error instanceof BaseError) {
    const revert = error.walk((e) => e instanceof ContractFunctionRevertedError);
    if (revert instanceof ContractFunctionRevertedError) return revert.data?.errorName ?? revert.reason;
  }
  return undefined;
}

/** Awaits `promise` and throws unless it reverted with the custom error `errorName`. */
export async function expectRevert(promise: Promise<unknown>, errorName: string): Promise<void> {
  try {
    await promise;
  } catch (error) {
    const name = revertErrorName(error);
    if (name === errorName) return;
    throw new Error(`expected revert ${errorName}, got ${name ?? String(error)}`, { cause: error });
  }
  throw new Error(`expected revert ${errorName}, but the call succeeded`);
}

/** Terms and state of channel `channelId` (its terms found from `ChannelOpened`); throws when it is not opened. */
export async function channelViewOf(args: {
  publicClient: Parameters<typeof createChannelReader>[0]["publicClient"];
  paymentChannels: `0x${string}`;
  channelId: `0x${string}`;
}) {
  const view = await createChannelReader(args).read(args.channelId);
  if (!view) throw new Error(`channel ${args.channelId} is not opened`);
  return view;
}

/** The terms of channel `channelId`, which every PaymentChannels call about it passes. */
export async function channelConfigOf(args: {
  publicClient: Parameters<typeof createChannelReader>[0]["publicClient"];
  paymentChannels: `0x${string}`;
  channelId: `0x${string}`;
}) {
  return (await channelViewOf(args)).config;
}
