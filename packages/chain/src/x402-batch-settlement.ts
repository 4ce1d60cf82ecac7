/**
 * The x402 `batch-settlement` scheme on the devnet. `@x402/evm` calls its contracts at fixed
 * (CREATE2) addresses and reads through Multicall3; public chains have the canonical deployments,
 * the devnet (chain 31337) has none, so Verity installs its own implementation there: each
 * contract's runtime code (what its constructor returns, computed with `eth_call`) is written to
 * the canonical address with `hardhat_setCode`. Nothing is sent from any account, so deployer
 * nonces (and every other contract address) stay as they were.
 */
import { erc3009DepositCollectorBytecode, multicall3Bytecode, x402BatchSettlementBytecode } from "@verity/contracts";
import type { EIP1193RequestFn, Hex } from "viem";

/** The batch-settlement contract `@x402/evm` calls (EIP-712 domain "x402 Batch Settlement", "1"). */
export const X402_BATCH_SETTLEMENT_ADDRESS = "0x4020074e9dF2ce1deE5A9C1b5c3f541D02a10003" as const;
/** The ERC-3009 deposit collector named in the payer's `ReceiveWithAuthorization`. */
export const X402_ERC3009_DEPOSIT_COLLECTOR_ADDRESS = "0x4020806089470a89826cB9fB1f4059150b550004" as const;
/** Multicall3, through which the x402 facilitator batches its reads (`tryAggregate`). */
export const MULTICALL3_ADDRESS = "0xcA11bde05977b3631167028862bE2a173976CA11" as const;
/** The only chain the installer writes to. */
export const X402_INSTALL_CHAIN_ID = 31337;

export type X402ContractName = "X402BatchSettlement" | "Erc3009DepositCollector" | "Multicall3";

export type InstallX402BatchSettlementOptions = {
  /** Anything with an EIP-1193 `request`: a viem client or the EDR provider. */
  client: { request: EIP1193RequestFn };
};

export type X402BatchSettlementInstall = {
  addresses: Record<X402ContractName, `0x${string}`>;
  /** The contracts whose code was written now (empty when all were there already). */
  installed: X402ContractName[];
};

const CONTRACTS: readonly { name: X402ContractName; address: `0x${string}`; bytecode: Hex }[] = [
  { name: "X402BatchSettlement", address: X402_BATCH_SETTLEMENT_ADDRESS, bytecode: x402BatchSettlementBytecode },
  {
    name: "Erc3009DepositCollector",
    address: X402_ERC3009_DEPOSIT_COLLECTOR_ADDRESS,
    bytecode: erc3009DepositCollectorBytecode,
  },
  { name: "Multicall3", address: MULTICALL3_ADDRESS, bytecode: multicall3Bytecode },
];

/**
 * Puts Verity's x402 batch-settlement contracts at their canonical addresses on the devnet chain
 * (31337): every address that holds no code gets the contract's runtime code; an address with
 * code is left alone, so a second call changes nothing. Throws on any other chain.
 */
export async function installX402BatchSettlement(
  options: InstallX402BatchSettlementOptions,
): Promise<X402BatchSettlementInstall> {
  const client = options.client;
  const request = (args: { method: string; params?: unknown }): Promise<unknown> => client.request(args as never);
  const chainId = Number(BigInt((await request({ method: "eth_chainId" })) as string));
  if (chainId !== X402_INSTALL_CHAIN_ID) {
    throw new Error(`installX402BatchSettlement runs on chain ${X402_INSTALL_CHAIN_ID} only, not chain ${chainId}`);
  }
  const installed: X402ContractName[] = [];
  for (const contract of CONTRACTS) {
    const code = (await request({ method: "eth_getCode", params: [contract.address, "latest"] })) as Hex;
    if (code !== "0x" && code !== "0x0") continue;
    const runtime = (await request({ method: "eth_call", params: [{ data: contract.bytecode }, "latest"] })) as Hex;
    if (runtime === "0x") throw new Error(`${contract.name}: the constructor returned no runtime code`);
    await request({ method: "hardhat_setCode", params: [contract.address, runtime] });
    installed.push(contract.name);
  }
  return {
    addresses: {
      X402BatchSettlement: X402_BATCH_SETTLEMENT_ADDRESS,
      Erc3009DepositCollector: X402_ERC3009_DEPOSIT_COLLECTOR_ADDRESS,
      Multicall3: MULTICALL3_ADDRESS,
    },
    installed,
  };
}
