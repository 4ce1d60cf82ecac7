/** The shapes every x402 door shares (gateway, provider, the SDK's seller middleware). */
import type { Network, SettleResponse } from "@x402/core/types";
import type { Address, Hex } from "viem";

/** The EIP-3009 token paid in; `name`/`version` are its EIP-712 domain (TestUSD: "Test USD", "1"). */
export type X402Token = { address: Address; name: string; version: string; decimals: number };

/** What one request costs: `amount` in the token's base units. */
export type X402Charge = { resourceUrl: string; description: string; amount: bigint; mimeType?: string };

export type X402Settlement = {
  /** The settlement transaction (absent for a voucher: it is claimed on chain later, in a batch). */
  txHash?: Hex;
  payer: Address;
  amount: bigint;
  network: Network;
  response: SettleResponse;
  /** `PAYMENT-RESPONSE` (v2) or `X-PAYMENT-RESPONSE` (v1). */
  headerName: "PAYMENT-RESPONSE" | "X-PAYMENT-RESPONSE";
  /** Base64 value of that header. */
  header: string;
};
