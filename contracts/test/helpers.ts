/**
 * Shared helpers for the contract tests: typed contract handles per devnet account, mined-transaction
 * assertions and event extraction.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import {
  type Abi,
  type Address,
  type ContractEventName,
  createPublicClient,
  createWalletClient,
  custom,
  decodeErrorResult,
  encodeDeployData,
  getAddress,
  getContract,
  type Hex,
  parseEventLogs,
  type TransactionReceipt,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { TestChain } from "../../packages/chain/src/testing.ts";

/**
 * A typed viem contract instance that reads through the chain and writes as devnet account `from`.
 * Its transport does not retry: reverts surface immediately instead of after viem's ~1 s of backoff.
 */
export function contractAs<const abi extends Abi>(chain: TestChain, abi: abi, address: Address, from: string) {
  const transport = custom(chain.edr.provider, { retryCount: 0 });
  const account = privateKeyToAccount(chain.account(from).privateKey);
  return getContract({
    address: getAddress(address),
    abi,
    client: {
      public: createPublicClient({ chain: chain.chain, transport, pollingInterval: 10 }),
      wallet: createWalletClient({ chain: chain.chain, transport, account }),
    },
  });
}

/** Awaits a transaction hash, waits for its receipt and asserts it succeeded. */
export async function mined(chain: TestChain, hash: Promise<Hex>): Promise<TransactionReceipt> {
  const receipt = await chain.publicClient.waitForTransactionReceipt({ hash: await hash });
  assert.equal(receipt.status, "success");
  return receipt;
}

/** The decoded events named `eventName` in `receipt`. */
export function eventsOf<const abi extends Abi, eventName extends ContractEventName<abi>>(
  abi: abi,
  receipt: TransactionReceipt,
  eventName: eventName,
) {
  return parseEventLogs({ abi, logs: receipt.logs, eventName });
}

/** Timestamp of the latest block. */
export async function now(chain: TestChain): Promise<bigint> {
  return (await chain.publicClient.getBlock()).timestamp;
}

/** Deploys like `chain.deploy` and returns the checksummed address. */
export async function deployed(chain: TestChain, args: Parameters<TestChain["deploy"]>[0]): Promise<Address> {
  return getAddress(await chain.deploy(args));
}

/** Solidity of a minimal ERC-1271 smart wallet whose signatures are ECDSA signatures of `signer`. */
const erc1271WalletSource = `// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;
contract Erc1271Wallet {
    address public immutable signer;
    constructor(address signer_) { signer = signer_; }
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        if (signature.length != 65) return 0xffffffff;
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        address recovered = ecrecover(hash, v, r, s);
        return recovered != address(0) && recovered == signer ? bytes4(0x1626ba7e) : bytes4(0xffffffff);
    }
}`;

let erc1271WalletArtifact: { abi: Abi; bytecode: Hex } | undefined;

/**
 * Deploys a minimal ERC-1271 smart wallet (compiled here with solc-js: it is a test fixture, not a project
 * contract) that accepts ECDSA signatures of devnet account `signerName`.
 */
export async function deployErc1271Wallet(chain: TestChain, signerName: string): Promise<Address> {
  if (!erc1271WalletArtifact) {
    const solc = createRequire(import.meta.url)("solc") as { compile(input: string): string };
    const output = JSON.parse(
      solc.compile(
        JSON.stringify({
          language: "Solidity",
          sources: { "Erc1271Wallet.sol": { content: erc1271WalletSource } },
          settings: { outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } },
        }),
      ),
    ) as { contracts: Record<string, Record<string, { abi: Abi; evm: { bytecode: { object: string } } }>> };
    const artifact = output.contracts["Erc1271Wallet.sol"]?.Erc1271Wallet;
    if (!artifact) throw new Error("Erc1271Wallet did not compile");
    erc1271WalletArtifact = { abi: artifact.abi, bytecode: `0x${artifact.evm.bytecode.object}` };
  }
  return deployed(chain, { from: "deployer", ...erc1271WalletArtifact, args: [chain.account(signerName).address] });
}

/** Asserts that deploying `abi`/`bytecode` with `args` reverts with the custom error `errorName`. */
export async function expectDeployRevert(
  chain: TestChain,
  deployment: { abi: Abi; bytecode: Hex; args: readonly unknown[] },
  errorName: string,
): Promise<void> {
  const data = encodeDeployData(deployment as never);
  try {
    await chain.edr.provider.request({
      method: "eth_call",
      params: [{ from: chain.account("deployer").address, data }, "latest"],
    } as never);
  } catch (error) {
    const revertData = (error as { data?: unknown }).data;
    assert.equal(typeof revertData, "string", `deployment failed without revert data: ${String(error)}`);
    assert.equal(decodeErrorResult({ abi: deployment.abi, data: revertData as Hex }).errorName, errorName);
    return;
  }
  assert.fail(`expected deployment to revert ${errorName}`);
}
