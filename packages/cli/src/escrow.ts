import { paymentChannelsAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import type { PublicClient } from "viem";

export type EscrowChannel = {
  channelId: `0x${string}`;
  agentId: bigint;
  modelId: bigint;
  deposit: bigint;
  claimed: bigint;
  /** Unix seconds from which the rest can be withdrawn; 0 when no withdrawal was started. */
  withdrawableAt: number;
};

/** Blocks per `eth_getLogs` request (public endpoints refuse wide ranges). */
const LOG_RANGE = 10_000n;

/**
 * The payer's channels that are still open, read from the chain (`ChannelOpened` logs since the
 * deployment's start block, then each channel's current state), and the escrow they hold:
 * `deposit - claimed`, summed.
 */
export async function openEscrow(args: {
  publicClient: PublicClient;
  deployment: Deployment;
  payer: `0x${string}`;
}): Promise<{ channels: EscrowChannel[]; total: bigint }> {
  const address = args.deployment.contracts.PaymentChannels.address;
  const head = await args.publicClient.getBlockNumber();
  const ids = new Set<`0x${string}`>();
  for (let from = BigInt(args.deployment.startBlock); from <= head; from += LOG_RANGE) {
    const to = from + LOG_RANGE - 1n < head ? from + LOG_RANGE - 1n : head;
    const logs = await args.publicClient.getContractEvents({
      address,
      abi: paymentChannelsAbi,
      eventName: "ChannelOpened",
      args: { payer: args.payer },
      fromBlock: from,
      toBlock: to,
    });
    for (const log of logs) if (log.args.channelId) ids.add(log.args.channelId);
  }
  const channels: EscrowChannel[] = [];
  for (const channelId of ids) {
    const view = await args.publicClient.readContract({
      address,
      abi: paymentChannelsAbi,
      functionName: "getChannel",
      args: [channelId],
    });
    if (view.closed) continue;
    channels.push({
      channelId,
      agentId: BigInt(view.receiverAgentId),
      modelId: BigInt(view.modelId),
      deposit: view.deposit,
      claimed: view.claimed,
      withdrawableAt: Number(view.withdrawableAt),
    });
  }
  return { channels, total: channels.reduce((sum, c) => sum + c.deposit - c.claimed, 0n) };
}
