/**
 * Who may sign a channel's receipts: the receiver signer PaymentChannels fixed when the channel
 * opened (the agent wallet then, else the agent owner). It never changes for a channel, so one read
 * per channel is cached for good; moving the agent or changing its wallet later neither voids old
 * receipts nor lets a new key sign for the channel.
 */
import { paymentChannelsAbi } from "@verity/contracts";
import type { PublicClient } from "viem";

export function createReceiptSigners(options: {
  publicClient: Pick<PublicClient, "readContract">;
  paymentChannels: `0x${string}`;
}) {
  const cache = new Map<string, string>();

  async function signerOf(channelId: `0x${string}`): Promise<string | undefined> {
    const key = channelId.toLowerCase();
    const cached = cache.get(key);
    if (cached) return cached;
    const channel = await options.publicClient
      .readContract({
        address: options.paymentChannels,
        abi: paymentChannelsAbi,
        functionName: "getChannel",
        args: [channelId],
      })
      .catch(() => undefined);
    const signer = channel?.receiverSigner;
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
