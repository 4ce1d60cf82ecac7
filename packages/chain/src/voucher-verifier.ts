import { createRequire } from "node:module";
import { keccak_256 } from "@noble/hashes/sha3";
import { voucherDomain } from "@verity/core";
import { domainSeparator, hexToBytes, keccak256, stringToHex } from "viem";

type Secp256k1 = {
  ecdsaRecover(signature: Uint8Array, recid: number, message: Uint8Array, compressed: boolean): Uint8Array;
};

const require = createRequire(import.meta.url);
// libsecp256k1 through its N-API binding (prebuilt in the npm package); the package itself falls
// back to a pure-JS implementation where no prebuilt binary loads.
const secp256k1 = require("secp256k1") as Secp256k1;
// Keccak through the `keccak` package's native binding (about twice @noble/hashes on this path),
// falling back to @noble/hashes where it does not load.
const nativeKeccak = (() => {
  try {
    const create = require("keccak/bindings") as (algorithm: string) => {
      update(data: Uint8Array): { digest(): Buffer };
    };
    return (data: Uint8Array): Uint8Array =>
      create("keccak256")
        .update(Buffer.from(data.buffer, data.byteOffset, data.byteLength))
        .digest();
  } catch {
    return undefined;
  }
})();
const keccak = nativeKeccak ?? keccak_256;

/** Half the secp256k1 group order: signatures with a larger `s` are malleable and contracts reject them. */
const HALF_N = Buffer.from("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0", "hex");
const ZERO32 = Buffer.alloc(32);

/** `0x…` hex to bytes through Buffer (several times viem's `hexToBytes` on this path); undefined when malformed. */
function hexBuffer(hex: string, bytes: number): Buffer | undefined {
  if (hex.length !== 2 + bytes * 2 || hex[0] !== "0" || hex[1] !== "x") return undefined;
  const out = Buffer.from(hex.slice(2), "hex");
  return out.length === bytes ? out : undefined;
}
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
    const signature = hexBuffer(voucher.signature, 65);
    if (!signature) return undefined;
    const v = signature[64] ?? 0;
    if (v !== 27 && v !== 28) return undefined;
    const s = signature.subarray(32, 64);
    if (s.equals(ZERO32) || s.compare(HALF_N) > 0) return undefined;
    try {
      const publicKey = secp256k1.ecdsaRecover(
        signature.subarray(0, 64),
        v - 27,
        digest(voucher.channelId, voucher.cumulativeAmount),
        false,
      );
      const hash = keccak(publicKey.subarray(1));
      return `0x${Buffer.from(hash.buffer, hash.byteOffset + 12, 20).toString("hex")}`;
    } catch {
      return undefined;
    }
  }

  return { digest, recoverSigner };
}

export type VoucherVerifier = ReturnType<typeof createVoucherVerifier>;
