import { voucherDomain } from "@verity/core";
import { domainSeparator, hexToBytes, keccak256, stringToHex } from "viem";
import { hexBuffer, keccakBytes as keccak, recoverDigestSigner } from "./native-crypto.ts";

const VOUCHER_TYPEHASH = hexToBytes(keccak256(stringToHex("Voucher(bytes32 channelId,uint256 cumulativeAmount)")));

function uint256Bytes(value: bigint, into: Uint8Array, offset: number): void {
  let v = value;
  for (let i = 31; i >= 0; i--) {
    into[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/**
 * Verifies payment-channel vouchers on the hot path: the EIP-712 digest is built from a
 * precomputed domain separator and type hash, and the signer is recovered with libsecp256k1
 * (native) — about 30× faster than viem's `recoverTypedDataAddress`, with the same rules as the
 * contract (OpenZeppelin ECDSA: 65-byte signature, v ∈ {27, 28}, low `s`).
 */
export function createVoucherVerifier(args: { chainId: number; verifyingContract: `0x${string}` }) {
  const separator = hexToBytes(domainSeparator({ domain: voucherDomain(args) }));
  const structInput = new Uint8Array(96);
  structInput.set(VOUCHER_TYPEHASH, 0);
  const digestInput = new Uint8Array(66);
  digestInput[0] = 0x19;
  digestInput[1] = 0x01;
  digestInput.set(separator, 2);

  /** The EIP-712 digest the payer authorizer signs for `(channelId, cumulativeAmount)`. */
  function digest(channelId: `0x${string}`, cumulativeAmount: bigint): Uint8Array {
    structInput.set(hexBuffer(channelId, 32) ?? hexToBytes(channelId), 32);
    uint256Bytes(cumulativeAmount, structInput, 64);
    digestInput.set(keccak(structInput), 34);
    return keccak(digestInput);
  }

  /**
   * The lower-case address that signed the voucher, or `undefined` for a signature the contract
   * would reject (wrong length, bad v, high s, not on the curve).
   */
  function recoverSigner(voucher: {
    channelId: `0x${string}`;
    cumulativeAmount: bigint;
    signature: `0x${string}`;
  }): `0x${string}` | undefined {
    return recoverDigestSigner(digest(voucher.channelId, voucher.cumulativeAmount), voucher.signature);
  }

  return { digest, recoverSigner };
}

export type VoucherVerifier = ReturnType<typeof createVoucherVerifier>;
