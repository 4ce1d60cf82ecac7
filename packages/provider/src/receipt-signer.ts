import { type Receipt, receiptDomain, receiptToJson, receiptTypes, type SignedReceiptJson } from "@verity/core";
import type { LocalAccount } from "viem";

/** Signs receipts as EIP-712 typed data in the "Verity Receipt" domain of this chain's PaymentChannels. */
export function createReceiptSigner(options: {
  account: LocalAccount;
  chainId: number;
  paymentChannels: `0x${string}`;
}) {
  const domain = receiptDomain({ chainId: options.chainId, verifyingContract: options.paymentChannels });
  return {
    address: options.account.address,
    async sign(receipt: Receipt): Promise<SignedReceiptJson> {
      const signature = await options.account.signTypedData({
        domain,
        types: receiptTypes,
        primaryType: "Receipt",
        message: receipt,
      });
      return { receipt: receiptToJson(receipt), signature, signer: options.account.address };
    },
  };
}

export type ReceiptSigner = ReturnType<typeof createReceiptSigner>;
