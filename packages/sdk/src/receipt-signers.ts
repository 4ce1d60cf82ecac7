/**
 * Who may sign a channel's receipts: the receiver signer PaymentChannels fixed when the channel
 * opened (the agent wallet then, else the agent owner). It never changes for a channel, so one read
 * per channel is cached for good; moving the agent or changing its wallet later neither voids old
 * receipts nor lets a new key sign for the channel.
 */
import { createChannelReader } from "@verity/chain";
import type { PublicClient } from "viem";

export function createReceiptSigners(options: {
  publicClient: Pick<PublicClient, "readContract" | "getContractEvents">;
  paymentChannels: `0x${string}`;
  /** First block to search for `ChannelOpened` (the deployment's start block). */
  fromBlock?: bigint;
}) {
  const cache = new Map<string, string>();
  const reader = createChannelReader(options);

  async function signerOf(channelId: `0x${string}`): Promise<string | undefined> {
    const key = channelId.toLowerCase();
    const cached = cache.get(key);
    if (cached) return cached;
    // The signer is part of the channel's terms, emitted in its `ChannelOpened`.
    const config = await reader.configOf(channelId).catch(() => undefined);
    const signer = config?.receiverSigner;
    if (!signer || /^0x0{40}$/i.test(signer)) return undefined; // not opened (yet): read again next time
    cache.set(key, signer.toLowerCase());
    return signer.toLowerCase();
  }

  return {
    /** Whether `address` is the receipt signer fixed for `channelId` when it opened. */
    async isSigner(channelId: `0x${string}`, address: string): Promise<boolean> {
      return (await signerOf(channelId)) === address.toLowerCase();
    },
  };
}

export type ReceiptSigners = ReturnType<typeof createReceiptSigners>;
