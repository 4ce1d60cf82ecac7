import { erc20Abi, type PublicClient } from "viem";

const eip5267Abi = [
  {
    type: "function",
    name: "eip712Domain",
    stateMutability: "view",
    inputs: [],
    outputs: [
      { name: "fields", type: "bytes1" },
      { name: "name", type: "string" },
      { name: "version", type: "string" },
      { name: "chainId", type: "uint256" },
      { name: "verifyingContract", type: "address" },
      { name: "salt", type: "bytes32" },
      { name: "extensions", type: "uint256[]" },
    ],
  },
] as const;

/** Name, symbol, decimals and EIP-712 domain version of an ERC-20 (for permit and EIP-3009 signatures). */
export async function readTokenInfo(args: { publicClient: PublicClient; address: `0x${string}` }) {
  const { publicClient, address } = args;
  const [name, symbol, decimals] = await Promise.all([
    publicClient.readContract({ address, abi: erc20Abi, functionName: "name" }),
    publicClient.readContract({ address, abi: erc20Abi, functionName: "symbol" }),
    publicClient.readContract({ address, abi: erc20Abi, functionName: "decimals" }),
  ]);
  let version = "1";
  try {
    const domain = await publicClient.readContract({ address, abi: eip5267Abi, functionName: "eip712Domain" });
    version = domain[2];
  } catch {
    // Tokens without EIP-5267 (e.g. older USDC deployments use version "2"): callers may override.
  }
  return { name, symbol, decimals, version };
}
