import { defineChain } from "viem";

/** viem chain definition for a Verity devnet (embedded EDR chain exposed over JSON-RPC). */
export function devnetChain(options: { chainId?: number; rpcUrl?: string } = {}) {
  const rpcUrl = options.rpcUrl ?? "http://127.0.0.1:8545";
  return defineChain({
    id: options.chainId ?? 31337,
    name: "Verity devnet",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
    testnet: true,
  });
}
