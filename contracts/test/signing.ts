/**
 * EIP-712 signatures the contract tests and the gas report need: payment-channel vouchers, EIP-2612
 * permits, EIP-3009 transfer / receive / cancel authorizations (what an x402 `exact` payment is) and
 * agent-wallet proofs.
 */
import { type Address, type Hex, parseSignature } from "viem";
import { privateKeyToAccount } from "viem/accounts";

type Domain = { chainId: number; verifyingContract: Address };
type Vrs = { v: number; r: Hex; s: Hex };

/** Typed data of `Voucher(bytes32 channelId,uint256 cumulativeAmount)` in the `Verity PaymentChannels` v1 domain. */
export function voucherTypedData(domain: Domain, message: { channelId: Hex; cumulativeAmount: bigint }) {
  return {
    domain: { name: "Verity PaymentChannels", version: "1", ...domain },
    types: {
      Voucher: [
        { name: "channelId", type: "bytes32" },
        { name: "cumulativeAmount", type: "uint256" },
      ],
    },
    primaryType: "Voucher",
    message,
  } as const;
}

/** A voucher signature: the payer authorizer's cap `cumulativeAmount` for `channelId`. */
export function signVoucher(
  key: Hex,
  domain: Domain,
  message: { channelId: Hex; cumulativeAmount: bigint },
): Promise<Hex> {
  return privateKeyToAccount(key).signTypedData(voucherTypedData(domain, message));
}

/** EIP-2612 permit on TestUSD (domain `Test USD` v1), split into `(v, r, s)`. */
export async function signPermit(
  key: Hex,
  domain: Domain,
  message: { owner: Address; spender: Address; value: bigint; nonce: bigint; deadline: bigint },
): Promise<Vrs> {
  const signature = await privateKeyToAccount(key).signTypedData({
    domain: testUsdDomain(domain),
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

/** The message of an EIP-3009 transfer or receive authorization. */
export type Authorization = {
  from: Address;
  to: Address;
  value: bigint;
  validAfter: bigint;
  validBefore: bigint;
  nonce: Hex;
};

/** EIP-3009 `TransferWithAuthorization` (or `ReceiveWithAuthorization`) on TestUSD, as a 65-byte signature. */
export function signAuthorization(
  key: Hex,
  domain: Domain,
  message: Authorization,
  primaryType: "TransferWithAuthorization" | "ReceiveWithAuthorization" = "TransferWithAuthorization",
): Promise<Hex> {
  const fields = [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "validAfter", type: "uint256" },
    { name: "validBefore", type: "uint256" },
    { name: "nonce", type: "bytes32" },
  ] as const;
  return privateKeyToAccount(key).signTypedData({
    domain: testUsdDomain(domain),
    types: { TransferWithAuthorization: fields, ReceiveWithAuthorization: fields },
    primaryType,
    message,
  });
}

/** EIP-3009 `TransferWithAuthorization` on TestUSD, split into `(v, r, s)`. */
export async function signTransferWithAuthorization(key: Hex, domain: Domain, message: Authorization): Promise<Vrs> {
  return splitSignature(await signAuthorization(key, domain, message));
}

/** EIP-3009 `CancelAuthorization` on TestUSD, as a 65-byte signature. */
export function signCancelAuthorization(
  key: Hex,
  domain: Domain,
  message: { authorizer: Address; nonce: Hex },
): Promise<Hex> {
  return privateKeyToAccount(key).signTypedData({
    domain: testUsdDomain(domain),
    types: {
      CancelAuthorization: [
        { name: "authorizer", type: "address" },
        { name: "nonce", type: "bytes32" },
      ],
    },
    primaryType: "CancelAuthorization",
    message,
  });
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

/** A 65-byte signature as the `(v, r, s)` of the `*WithAuthorization` / `permit` overloads. */
export function splitSignature(signature: Hex): Vrs {
  const { v, yParity, r, s } = parseSignature(signature);
  return { v: Number(v ?? BigInt(yParity + 27)), r, s };
}

function testUsdDomain(domain: Domain) {
  return { name: "Test USD", version: "1", ...domain };
}
