/**
 * Reads payment channels by id. PaymentChannels stores only a channel's mutable state (deposit,
 * claimed, times, closed); its terms (`ChannelConfig`, whose hash is the id) are passed with every
 * call and emitted once, in `ChannelOpened`. This reader finds the terms of an id from that log
 * (cached for good: they never change), then reads the channel with them.
 */

import { paymentChannelsAbi } from "@verity/contracts";
import { type ChannelConfig, channelIdOf } from "@verity/core";
import type { PublicClient } from "viem";

/** `PaymentChannels.getChannel` as viem decodes it. */
export type ChannelView = {
  payer: `0x${string}`;
  payerAuthorizer: `0x${string}`;
  receiverAgentId: bigint;
  modelId: bigint;
  withdrawDelay: bigint;
  withdrawableAt: bigint;
  deposit: bigint;
  claimed: bigint;
  closed: boolean;
  lastClaimedAt: bigint;
  receiverSigner: `0x${string}`;
};

/** `ChannelOpened` arguments as viem decodes them (every field optional until checked). */
type ChannelOpenedArgs = { [K in keyof ChannelConfig]?: ChannelConfig[K] | undefined } & {
  channelId?: `0x${string}` | undefined;
};

/**
 * The terms a `ChannelOpened` log states, when they hash to its channel id (a log is the
 * contract's, but only terms whose hash is the id are ever used); undefined otherwise.
 */
export function configOfOpenedLog(a: ChannelOpenedArgs): ChannelConfig | undefined {
  if (
    a.payer === undefined ||
    a.payerAuthorizer === undefined ||
    a.receiverAgentId === undefined ||
    a.modelId === undefined ||
    a.token === undefined ||
    a.withdrawDelay === undefined ||
    a.salt === undefined ||
    a.receiverSigner === undefined
  ) {
    return undefined;
  }
  const config: ChannelConfig = {
    payer: a.payer,
    payerAuthorizer: a.payerAuthorizer,
    receiverAgentId: a.receiverAgentId,
    modelId: a.modelId,
    token: a.token,
    withdrawDelay: a.withdrawDelay,
    salt: a.salt,
    receiverSigner: a.receiverSigner,
  };
  return a.channelId === undefined || channelIdOf(config).toLowerCase() === a.channelId.toLowerCase()
    ? config
    : undefined;
}

export function createChannelReader(options: {
  publicClient: Pick<PublicClient, "readContract" | "getContractEvents">;
  paymentChannels: `0x${string}`;
  /** First block to search for `ChannelOpened` (the deployment's start block). */
  fromBlock?: bigint;
}) {
  const configs = new Map<string, ChannelConfig>();

  /** Remembers terms already known (e.g. the ones a payer opened with); returns their id. */
  function remember(config: ChannelConfig): `0x${string}` {
    const id = channelIdOf(config);
    configs.set(id.toLowerCase(), config);
    return id;
  }

  /** The terms of `channelId` from its `ChannelOpened` event; undefined while it is not opened. */
  async function configOf(channelId: `0x${string}`): Promise<ChannelConfig | undefined> {
    const known = configs.get(channelId.toLowerCase());
    if (known) return known;
    const logs = await options.publicClient.getContractEvents({
      address: options.paymentChannels,
      abi: paymentChannelsAbi,
      eventName: "ChannelOpened",
      args: { channelId },
      fromBlock: options.fromBlock ?? 0n,
      toBlock: "latest",
    });
    for (const log of logs) {
      // The id asked for, not the log's: only terms hashing to it are taken.
      const config = configOfOpenedLog({ ...log.args, channelId });
      if (config) {
        remember(config);
        return config;
      }
    }
    return undefined;
  }

  /** Terms and state of `channelId`; undefined while it is not opened. */
  async function read(channelId: `0x${string}`): Promise<(ChannelView & { config: ChannelConfig }) | undefined> {
    const config = await configOf(channelId);
    if (!config) return undefined;
    const view = await options.publicClient.readContract({
      address: options.paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "getChannel",
      args: [config],
    });
    return { ...view, config };
  }

  return { remember, configOf, read };
}

export type ChannelReader = ReturnType<typeof createChannelReader>;
