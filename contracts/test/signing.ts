/**
 * EIP-712 signatures the contract tests and the gas report need: payment-channel vouchers, EIP-2612
 * permits, EIP-3009 transfer authorizations (what an x402 `exact` payment is) and agent-wallet proofs.
 */
import { type Address, type Hex, parseSignature } from "viem";
import { privateKeyToAccount } from "viem/accounts";

type Domain = { chainId: number; verifyingContract: Address };

/** `Voucher(bytes32 channelId,uint256 cumulativeAmount)` in the `Verity PaymentChannels` v1 domain. */
export function signVoucher(
  key: Hex,
  domain: Domain,
  message: { channelId: Hex; cumulativeAmount: bigint },
): Promise<Hex> {
  return privateKeyToAccount(key).signTypedData({
    domain: { name: "Verity PaymentChannels", version: "1", ...domain },
    types: {
      Voucher: [
        { name: "channelId", type: "bytes32" },
        { name: "cumulativeAmount", type: "uint256" },
      ],
    },
    primaryType: "Voucher",
    message,
  });
}

/** EIP-2612 permit on TestUSD (domain `Test USD` v1), split into `(v, r, s)`. */
export async function signPermit(
  key: Hex,
  domain: Domain,
  message: { owner: Address; spender: Address; value: bigint; nonce: bigint; deadline: bigint },
): Promise<{ v: number; r: Hex; s: Hex }> {
  const signature = await privateKeyToAccount(key).signTypedData({
    domain: { name: "Test USD", version: "1", ...domain },
    types: {
      Permit: [
        { name: "owner", type: "address" },
        { name: "spender", type: "address" },
        { name: "value", type: "uint256" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint256" },
      ],
    },
    primaryType: "Permit",
    message,
  });
  return splitSignature(signature);
}

/** EIP-3009 `TransferWithAuthorization` on TestUSD, split into `(v, r, s)`. */
export async function signTransferWithAuthorization(
  key: Hex,
  domain: Domain,
  message: { from: Address; to: Address; value: bigint; validAfter: bigint; validBefore: bigint; nonce: Hex },
): Promise<{ v: number; r: Hex; s: Hex }> {
  const signature = await privateKeyToAccount(key).signTypedData({
    domain: { name: "Test USD", version: "1", ...domain },
    types: {
      TransferWithAuthorization: [
        { name: "from", type: "address" },
        { name: "to", type: "address" },
        { name: "value", type: "uint256" },
        { name: "validAfter", type: "uint256" },
        { name: "validBefore", type: "uint256" },
        { name: "nonce", type: "bytes32" },
      ],
    },
    primaryType: "TransferWithAuthorization",
    message,
  });
  return splitSignature(signature);
}

/** Proof by `newWallet` for `AgentRegistry.setAgentWallet` (domain `Verity AgentRegistry` v1). */
export function signAgentWallet(
  key: Hex,
  domain: Domain,
  message: { agentId: bigint; newWallet: Address; owner: Address; deadline: bigint },
): Promise<Hex> {
  return privateKeyToAccount(key).signTypedData({
    domain: { name: "Verity AgentRegistry", version: "1", ...domain },
    types: {
      AgentWalletSet: [
        { name: "agentId", type: "uint256" },
        { name: "newWallet", type: "address" },
        { name: "owner", type: "address" },
        { name: "deadline", type: "uint256" },
      ],
    },
    primaryType: "AgentWalletSet",
    message,
  });
}

function splitSignature(signature: Hex): { v: number; r: Hex; s: Hex } {
  const { v, yParity, r, s } = parseSignature(signature);
  return { v: Number(v ?? BigInt(yParity + 27)), r, s };
}
