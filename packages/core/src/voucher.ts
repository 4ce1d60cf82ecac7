import { z } from "zod";
import { addressSchema } from "./deployment.ts";

/** EIP-712 types of a payment-channel voucher (must match `PaymentChannels.VOUCHER_TYPEHASH`). */
export const voucherTypes = {
  Voucher: [
    { name: "channelId", type: "bytes32" },
    { name: "cumulativeAmount", type: "uint256" },
  ],
} as const;

/** EIP-712 domain of the PaymentChannels contract at `verifyingContract` on `chainId`. */
export function voucherDomain(args: { chainId: number; verifyingContract: `0x${string}` }) {
  return {
    name: "Verity PaymentChannels",
    version: "1",
    chainId: args.chainId,
    verifyingContract: args.verifyingContract,
  } as const;
}

const hex32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "must be 0x-prefixed 32-byte hex")
  .transform((v) => v.toLowerCase() as `0x${string}`);

/** A signed voucher as it travels in the `Verity-Voucher` header (base64 of this JSON). */
export const signedVoucherSchema = z
  .object({
    channelId: hex32,
    cumulativeAmount: z
      .string()
      .regex(/^\d{1,78}$/, "must be a decimal integer string")
      .transform((v) => BigInt(v)),
    signature: z
      .string()
      .regex(/^0x[0-9a-fA-F]{130}$/, "must be a 65-byte hex signature")
      .transform((v) => v as `0x${string}`),
  })
  .strict();

export type SignedVoucher = z.output<typeof signedVoucherSchema>;

/**
 * A channel's terms (`channelId = keccak256(abi.encode(config))`). PaymentChannels does not store
 * them: every call about a channel passes them, and `ChannelOpened` carries them all.
 */
export const channelConfigSchema = z.object({
  payer: addressSchema,
  payerAuthorizer: addressSchema,
  receiverAgentId: z.bigint(),
  modelId: z.bigint(),
  token: addressSchema,
  withdrawDelay: z.bigint(),
  salt: hex32,
  /** Who signs the channel's receipts: the receiver agent's wallet at open, else its owner. */
  receiverSigner: addressSchema,
});

export type ChannelConfig = z.output<typeof channelConfigSchema>;

/** ABI parameter layout of `ChannelConfig`, for `encodeAbiParameters` / `channelIdOf`. */
export const channelConfigAbiParameter = {
  type: "tuple",
  components: [
    { name: "payer", type: "address" },
    { name: "payerAuthorizer", type: "address" },
    { name: "receiverAgentId", type: "uint256" },
    { name: "modelId", type: "uint256" },
    { name: "token", type: "address" },
    { name: "withdrawDelay", type: "uint64" },
    { name: "salt", type: "bytes32" },
    { name: "receiverSigner", type: "address" },
  ],
} as const;
