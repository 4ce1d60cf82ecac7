import { createRequire } from "node:module";
import { dirname } from "node:path";
import { keccak_256 } from "@noble/hashes/sha3";

type Secp256k1 = {
  ecdsaRecover(signature: Uint8Array, recid: number, message: Uint8Array, compressed: boolean): Uint8Array;
  ecdsaSign(message: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaVerify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  publicKeyCreate(privateKey: Uint8Array, compressed: boolean): Uint8Array;
};

const require = createRequire(import.meta.url);
/**
 * libsecp256k1 through its N-API binding (prebuilt in the npm package); the package itself falls
 * back to a pure-JS implementation where no prebuilt binary loads. Signing is RFC 6979
 * deterministic, like viem's, so both produce the same signature for the same digest and key.
 */
export const secp256k1 = require("secp256k1") as Secp256k1;

type Binding = {
  ecdsaRecover(out: Uint8Array, signature: Uint8Array, recid: number, digest: Uint8Array): number;
  ecdsaVerify(signature: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): number;
};

/** The N-API binding itself where its prebuilt binary loads (skips the wrapper's checks and allocations). */
const binding: Binding | undefined = (() => {
  try {
    const pkg = require.resolve("secp256k1/package.json");
    const load = createRequire(pkg)("node-gyp-build") as (dir: string) => { Secp256k1?: new () => unknown };
    const Addon = load(dirname(pkg)).Secp256k1;
    return typeof Addon === "function" ? (new Addon() as Binding) : undefined;
  } catch {
    return undefined;
  }
})();

/**
 * Public-key recovery into a caller's buffer (65 bytes, uncompressed): `true` when it recovered.
 * The binding's own method when its prebuilt binary loads (the package's wrapper re-validates its
 * arguments and allocates an output on every call), else the package's export.
 */
const recoverInto: (out: Uint8Array, signature: Uint8Array, recid: number, digest: Uint8Array) => boolean = binding
  ? (out, signature, recid, digest) => binding.ecdsaRecover(out, signature, recid, digest) === 0
  : (out, signature, recid, digest) => {
      try {
        out.set(secp256k1.ecdsaRecover(signature, recid, digest, false));
        return true;
      } catch {
        return false;
      }
    };

/** ECDSA verification of a 64-byte `r ‖ s` against a 65-byte public key (libsecp256k1 refuses high `s`). */
const verifyWith: (signature: Uint8Array, digest: Uint8Array, publicKey: Uint8Array) => boolean = binding
  ? (signature, digest, publicKey) => binding.ecdsaVerify(signature, digest, publicKey) === 0
  : (signature, digest, publicKey) => {
      try {
        return secp256k1.ecdsaVerify(signature, digest, publicKey);
      } catch {
        return false;
      }
    };

// Keccak through the `keccak` package's native state (libkeccak) used directly: one reused state,
// no stream object per hash (the package's `create("keccak256")` builds a Transform stream each
// call, which cost four times the hash itself). Falls back to @noble/hashes where it does not load.
const nativeKeccak = (() => {
  try {
    const keccakPackage = require.resolve("keccak/package.json");
    // node-gyp-build is the loader `keccak` itself uses: resolve it from there.
    const load = createRequire(keccakPackage)("node-gyp-build") as (dir: string) => unknown;
    const addon = load(dirname(keccakPackage));
    if (typeof addon !== "function") return undefined;
    const KeccakState = addon as new () => {
      initialize(rate: number, capacity: number): void;
      absorb(data: Buffer): void;
      absorbLastFewBits(bits: number): void;
      squeeze(length: number): Buffer;
    };
    const state = new KeccakState();
    return (data: Uint8Array): Uint8Array => {
      // keccak256: rate 1088 bits, capacity 512, domain padding 0x01 (not SHA3's 0x06).
      state.initialize(1088, 512);
      state.absorb(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      state.absorbLastFewBits(0x01);
      return state.squeeze(32);
    };
  } catch {
    return undefined;
  }
})();

/** keccak256 of `data` as bytes. */
export const keccakBytes: (data: Uint8Array) => Uint8Array = nativeKeccak ?? keccak_256;

/** Half the secp256k1 group order: signatures with a larger `s` are malleable and contracts reject them. */
const HALF_N = Buffer.from("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0", "hex");
const ZERO32 = Buffer.alloc(32);

/** `0x…` hex to bytes through Buffer (several times viem's `hexToBytes`); undefined when malformed. */
export function hexBuffer(hex: string, bytes: number): Buffer | undefined {
  if (hex.length !== 2 + bytes * 2 || hex[0] !== "0" || hex[1] !== "x") return undefined;
  const out = Buffer.from(hex.slice(2), "hex");
  return out.length === bytes ? out : undefined;
}

// Address of each recently seen public key (a pure function of the key, kept to skip a keccak per
// check for the few authorizer keys a provider sees); emptied when it reaches its bound.
const addressOfKey = new Map<string, `0x${string}`>();
const ADDRESS_CACHE_SIZE = 4096;
const recovered = Buffer.alloc(65);

/**
 * The lower-case address that signed `digest`, or `undefined` for a signature the contracts would
 * reject (OpenZeppelin ECDSA: 65 bytes, v ∈ {27, 28}, low non-zero `s`, on the curve).
 */
export function recoverDigestSigner(digest: Uint8Array, signatureHex: string): `0x${string}` | undefined {
  const signature = contractSignature(signatureHex);
  return signature ? recoverParsed(digest, signature) : undefined;
}

/** The 65 signature bytes when the contracts' rules admit them (65 bytes, v ∈ {27, 28}, low non-zero `s`). */
function contractSignature(signatureHex: string): Buffer | undefined {
  const signature = hexBuffer(signatureHex, 65);
  if (!signature) return undefined;
  const v = signature[64] ?? 0;
  if (v !== 27 && v !== 28) return undefined;
  const s = signature.subarray(32, 64);
  if (s.equals(ZERO32) || s.compare(HALF_N) > 0) return undefined;
  return signature;
}

function recoverParsed(digest: Uint8Array, signature: Buffer): `0x${string}` | undefined {
  if (!recoverInto(recovered, signature.subarray(0, 64), (signature[64] ?? 27) - 27, digest)) return undefined;
  const key = recovered.toString("latin1", 1, 65);
  let address = addressOfKey.get(key);
  if (address === undefined) {
    const hash = keccakBytes(recovered.subarray(1));
    address = `0x${Buffer.from(hash.buffer, hash.byteOffset + 12, 20).toString("hex")}`;
    if (addressOfKey.size >= ADDRESS_CACHE_SIZE) addressOfKey.clear();
    addressOfKey.set(key, address);
    if (keyOfAddress.size >= ADDRESS_CACHE_SIZE) keyOfAddress.clear();
    keyOfAddress.set(address, Buffer.from(recovered));
  }
  return address;
}

// The public key of each recently recovered address (the inverse of `addressOfKey`), so a check
// against a known signer can verify instead of recover; emptied when it reaches its bound.
const keyOfAddress = new Map<string, Buffer>();

/**
 * Whether `signatureHex` is `signer`'s signature of `digest` under the contracts' rules (65 bytes,
 * v ∈ {27, 28}, low non-zero `s`) with `r ‖ s` valid for `signer`'s key. Once a signer's public
 * key is known (from an earlier recovery) this verifies against it, ≈ 10 µs cheaper than recovery,
 * and does not judge `v`: a signature whose `v` is flipped still passes, as (r, s) alone prove the
 * key signed. Whoever hands such a signature to `ecrecover` must first fix `v` with
 * `canonicalSignature` (the provider's claimer does). `signer` is a lower-case address.
 */
export function digestSignedBy(digest: Uint8Array, signatureHex: string, signer: string): boolean {
  const signature = contractSignature(signatureHex);
  if (!signature) return false;
  const key = keyOfAddress.get(signer);
  if (key !== undefined) return verifyWith(signature.subarray(0, 64), digest, key);
  return recoverParsed(digest, signature) === signer;
}

/**
 * `signatureHex` with the `v` that makes `ecrecover` return `signer` (lower-case): itself when it
 * already does, `v` flipped when that does, else itself unchanged (the contract will refuse it).
 */
export function canonicalSignature(digest: Uint8Array, signatureHex: `0x${string}`, signer: string): `0x${string}` {
  if (recoverDigestSigner(digest, signatureHex) === signer) return signatureHex;
  const v = signatureHex.slice(130).toLowerCase();
  const flipped = `${signatureHex.slice(0, 130)}${v === "1b" ? "1c" : "1b"}` as `0x${string}`;
  return recoverDigestSigner(digest, flipped) === signer ? flipped : signatureHex;
}

/** Signs a 32-byte digest: `r ‖ s ‖ v` (v = 27 + recovery id, low `s`), as hex. */
export function signDigest(digest: Uint8Array, privateKey: Uint8Array): `0x${string}` {
  const { signature, recid } = secp256k1.ecdsaSign(digest, privateKey);
  const out = Buffer.alloc(65);
  out.set(signature, 0);
  out[64] = 27 + recid;
  return `0x${out.toString("hex")}`;
}
