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
type PrimaryType = keyof typeof types;
type Message<name extends PrimaryType> = TypedDataDefinition<typeof types, name>["message"];

/** The domains: each contract's EIP-712 name, version `1`. */
const domainNames = {
  Voucher: "Verity PaymentChannels",
  Permit: "Test USD",
  TransferWithAuthorization: "Test USD",
  ReceiveWithAuthorization: "Test USD",
  CancelAuthorization: "Test USD",
  AgentWalletSet: "Verity AgentRegistry",
} as const satisfies Record<PrimaryType, string>;

/** The typed data of a `primaryType` message for the contract at `domain` (all struct types listed; only the primary one is hashed). */
export function typedData<const name extends PrimaryType>(
  primaryType: name,
  domain: Domain,
  message: Message<name>,
): TypedDataDefinition<typeof types, name> {
  return { domain: { name: domainNames[primaryType], version: "1", ...domain }, types, primaryType, message };
}

function sign<const name extends PrimaryType>(key: Hex, primaryType: name, domain: Domain, message: Message<name>) {
  return privateKeyToAccount(key).signTypedData(typedData(primaryType, domain, message));
}

/** A voucher: the payer authorizer's cap `cumulativeAmount` for `channelId` (domain `Verity PaymentChannels` v1). */
export function signVoucher(key: Hex, domain: Domain, message: Message<"Voucher">): Promise<Hex> {
  return sign(key, "Voucher", domain, message);
}

/** EIP-2612 permit on TestUSD (domain `Test USD` v1), split into `(v, r, s)`. */
export async function signPermit(key: Hex, domain: Domain, message: Message<"Permit">): Promise<Vrs> {
  return splitSignature(await sign(key, "Permit", domain, message));
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
  return sign(key, primaryType, domain, message);
}

/** EIP-3009 `TransferWithAuthorization` on TestUSD, split into `(v, r, s)`. */
export async function signTransferWithAuthorization(key: Hex, domain: Domain, message: Authorization): Promise<Vrs> {
  return splitSignature(await signAuthorization(key, domain, message));
}

/** EIP-3009 `CancelAuthorization` on TestUSD, as a 65-byte signature. */
export function signCancelAuthorization(key: Hex, domain: Domain, message: Message<"CancelAuthorization">): Promise<Hex> {
  return sign(key, "CancelAuthorization", domain, message);
}

/** Proof by `newWallet` for `AgentRegistry.setAgentWallet` (domain `Verity AgentRegistry` v1). */
export function signAgentWallet(key: Hex, domain: Domain, message: Message<"AgentWalletSet">): Promise<Hex> {
  return sign(key, "AgentWalletSet", domain, message);
}

/** A 65-byte signature as the `(v, r, s)` of the `*WithAuthorization` / `permit` overloads. */
export function splitSignature(signature: Hex): Vrs {
  const { v, yParity, r, s } = parseSignature(signature);
  return { v: Number(v ?? BigInt(yParity + 27)), r, s };
}
