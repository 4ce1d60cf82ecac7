import { configOfOpenedLog } from "@verity/chain";
import { paymentChannelsAbi } from "@verity/contracts";
import type { ChannelConfig, Deployment } from "@verity/core";
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
  // A channel's terms are in its `ChannelOpened` (PaymentChannels stores only its state).
  const configs = new Map<`0x${string}`, ChannelConfig>();
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
    for (const { args: a } of logs) {
      if (a.channelId === undefined) continue;
      const config = configOfOpenedLog(a);
      if (config) configs.set(a.channelId, config);
    }
  }
  const channels: EscrowChannel[] = [];
  for (const [channelId, config] of configs) {
    const view = await args.publicClient.readContract({
      address,
      abi: paymentChannelsAbi,
      functionName: "getChannel",
      args: [config],
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
