/**
 * The receipt signer a channel opened now to `agentId` must name (`ChannelConfig.receiverSigner`):
 * the agent's wallet if set, else its owner (the zero address for an agent that does not exist).
 * PaymentChannels checks it at open (`ReceiverSignerMismatch`), so a payer reads it just before opening.
 */
import { agentRegistryAbi } from "@verity/contracts";
import { BaseError, ContractFunctionRevertedError, type PublicClient } from "viem";

const ZERO = "0x0000000000000000000000000000000000000000" as const;

export async function currentReceiverSigner(options: {
  publicClient: Pick<PublicClient, "readContract">;
  agentRegistry: `0x${string}`;
  agentId: bigint;
}): Promise<`0x${string}`> {
  const { publicClient, agentRegistry, agentId } = options;
  const read = (functionName: "getAgentWallet" | "ownerOf") =>
    publicClient.readContract({ address: agentRegistry, abi: agentRegistryAbi, functionName, args: [agentId] });
  try {
    const wallet = await read("getAgentWallet");
    return /^0x0{40}$/i.test(wallet) ? await read("ownerOf") : wallet;
  } catch (error) {
    // An agent that does not exist has no signer: `open` then reverts `UnknownAgent`, which callers
    // report with its reason code. Any other failure (RPC down) is the caller's to see.
    if (isContractRevert(error)) return ZERO;
    throw error;
  }
}

function isContractRevert(error: unknown): boolean {
  return error instanceof BaseError && error.walk((e) => e instanceof ContractFunctionRevertedError) !== null;
}
