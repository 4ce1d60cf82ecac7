/**
 * The receipt signer a channel opened now to `agentId` must name (`ChannelConfig.receiverSigner`):
 * the agent's wallet if set, else its owner. PaymentChannels checks it at open
 * (`ReceiverSignerMismatch`), so a payer reads it just before opening.
 */
import { agentRegistryAbi } from "@verity/contracts";
import type { PublicClient } from "viem";

export async function currentReceiverSigner(options: {
  publicClient: Pick<PublicClient, "readContract">;
  agentRegistry: `0x${string}`;
  agentId: bigint;
}): Promise<`0x${string}`> {
  const { publicClient, agentRegistry, agentId } = options;
  const wallet = await publicClient.readContract({
    address: agentRegistry,
    abi: agentRegistryAbi,
    functionName: "getAgentWallet",
    args: [agentId],
  });
  if (!/^0x0{40}$/i.test(wallet)) return wallet;
  return publicClient.readContract({
    address: agentRegistry,
    abi: agentRegistryAbi,
    functionName: "ownerOf",
    args: [agentId],
  });
}
