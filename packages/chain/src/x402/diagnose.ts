/**
 * Why an EIP-3009 transfer simulation failed, read directly from the token and the latest block.
 * @x402/evm diagnoses through Multicall3 at its canonical address, which our devnet does not have,
 * so its answer there is always the generic `..._transaction_simulation_failed`; this fills that gap
 * (and judges deadlines by chain time, as every Verity deadline is).
 */

import { erc20Abi, parseAbi } from "viem";
import type { FacilitatorClients } from "./facilitator.ts";
import type { Eip3009Authorization } from "./payment-header.ts";

const authorizationStateAbi = parseAbi(["function authorizationState(address, bytes32) view returns (bool)"]);

/** The library reason that explains the failure, or undefined when none of the usual causes holds. */
export async function diagnoseTransfer(
  publicClient: FacilitatorClients["publicClient"],
  token: `0x${string}`,
  auth: Eip3009Authorization,
): Promise<string | undefined> {
  const from = auth.from as `0x${string}`;
  const [used, balance, block] = await Promise.all([
    publicClient.readContract({
      address: token,
      abi: authorizationStateAbi,
      functionName: "authorizationState",
      args: [from, auth.nonce as `0x${string}`],
    }),
    publicClient.readContract({ address: token, abi: erc20Abi, functionName: "balanceOf", args: [from] }),
    publicClient.getBlock({ blockTag: "latest" }),
  ]);
  if (used) return "invalid_exact_evm_nonce_already_used";
  // The next block's timestamp is at least one second later than the latest one's.
  if (block.timestamp + 1n >= BigInt(auth.validBefore)) return "invalid_exact_evm_payload_authorization_valid_before";
  if (block.timestamp + 1n <= BigInt(auth.validAfter)) return "invalid_exact_evm_payload_authorization_valid_after";
  if (balance < BigInt(auth.value)) return "invalid_exact_evm_insufficient_balance";
  return undefined;
}
