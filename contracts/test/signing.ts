/**
 * EIP-712 signatures the contract tests and the gas report need: payment-channel vouchers, EIP-2612
 * permits, EIP-3009 transfer / receive / cancel authorizations (what an x402 `exact` payment is) and
 * agent-wallet proofs.
 */
import { type Address, type Hex, parseAbiParameters, parseSignature, type TypedDataDefinition } from "viem";
import { privateKeyToAccount } from "viem/accounts";

type Domain = { chainId: number; verifyingContract: Address };
type Vrs = { v: number; r: Hex; s: Hex };

/** The EIP-712 struct types, written as the contracts' type strings. */
const types = {
  Voucher: parseAbiParameters("bytes32 channelId, uint256 cumulativeAmount"),
  Permit: parseAbiParameters("address owner, address spender, uint256 value, uint256 nonce, uint256 deadline"),
  TransferWithAuthorization: parseAbiParameters(
    "address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce",
  ),
  ReceiveWithAuthorization: parseAbiParameters(
    "address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce",
  ),
  CancelAuthorization: parseAbiParameters("address authorizer, bytes32 nonce"),
  AgentWalletSet: parseAbiParameters("uint256 agentId, address newWallet, address owner, uint256 deadline"),
} as const;
type Message<name extends keyof typeof types> = TypedDataDefinition<typeof types, name>["message"];

/** EIP-712 domain of TestUSD, PaymentChannels or AgentRegistry (version `1`) at `domain`. */
const testUsd = (domain: Domain) => ({ name: "Test USD", version: "1", ...domain });
const paymentChannels = (domain: Domain) => ({ name: "Verity PaymentChannels", version: "1", ...domain });
const agentRegistry = (domain: Domain) => ({ name: "Verity AgentRegistry", version: "1", ...domain });

/** The typed data of a voucher (for hashing); every struct type is listed, only `Voucher` is hashed. */
export function voucherTypedData(domain: Domain, message: Message<"Voucher">) {
  return { domain: paymentChannels(domain), types, primaryType: "Voucher", message } as const;
}

/** A voucher: the payer authorizer's cap `cumulativeAmount` for `channelId`. */
export function signVoucher(key: Hex, domain: Domain, message: Message<"Voucher">): Promise<Hex> {
  return privateKeyToAccount(key).signTypedData(voucherTypedData(domain, message));
}

/** EIP-2612 permit on TestUSD, split into `(v, r, s)`. */
export async function signPermit(key: Hex, domain: Domain, message: Message<"Permit">): Promise<Vrs> {
  const account = privateKeyToAccount(key);
  return splitSignature(
    await account.signTypedData({ domain: testUsd(domain), types, primaryType: "Permit", message }),
  );
}

/** The message of an EIP-3009 transfer or receive authorization. */
export type Authorization = Message<"TransferWithAuthorization">;

/** EIP-3009 `TransferWithAuthorization` (or `ReceiveWithAuthorization`) on TestUSD, as a 65-byte signature. */
export function signAuthorization(
  key: Hex,
  domain: Domain,
  message: Authorization,
  primaryType: "TransferWithAuthorization" | "ReceiveWithAuthorization" = "TransferWithAuthorization",
): Promise<Hex> {
  return privateKeyToAccount(key).signTypedData({ domain: testUsd(domain), types, primaryType, message });
}

/** EIP-3009 `TransferWithAuthorization` on TestUSD, split into `(v, r, s)`. */
export async function signTransferWithAuthorization(key: Hex, domain: Domain, message: Authorization): Promise<Vrs> {
  return splitSignature(await signAuthorization(key, domain, message));
}

/** EIP-3009 `CancelAuthorization` on TestUSD, as a 65-byte signature. */
export function signCancelAuthorization(key: Hex, domain: Domain, message: Message<"CancelAuthorization">) {
  return privateKeyToAccount(key).signTypedData({
    domain: testUsd(domain),
    types,
    primaryType: "CancelAuthorization",
    message,
  });
}

/** Proof by `newWallet` for `AgentRegistry.setAgentWallet`. */
export function signAgentWallet(key: Hex, domain: Domain, message: Message<"AgentWalletSet">): Promise<Hex> {
  return privateKeyToAccount(key).signTypedData({
    domain: agentRegistry(domain),
    types,
    primaryType: "AgentWalletSet",
    message,
  });
}

/** A 65-byte signature as the `(v, r, s)` of the `*WithAuthorization` / `permit` overloads. */
export function splitSignature(signature: Hex): Vrs {
  const { v, yParity, r, s } = parseSignature(signature);
  return { v: Number(v ?? BigInt(yParity + 27)), r, s };
}
