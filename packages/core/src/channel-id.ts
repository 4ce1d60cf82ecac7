import { encodeAbiParameters, keccak256 } from "viem";
import { type ChannelConfig, channelConfigAbiParameter } from "./voucher.ts";

/** `keccak256(abi.encode(config))`, the id `PaymentChannels` gives a channel. */
export function channelIdOf(config: ChannelConfig): `0x${string}` {
  return keccak256(encodeAbiParameters([channelConfigAbiParameter], [config]));
}
