/**
 * Encryption of a user's context, on the user's machine only. The key is derived from the user's
 * private key (HKDF-SHA256, a fixed salt and info string), so the same key comes back anywhere the
 * user's key is: moving to another gateway, provider or folder needs nothing else. AES-256-GCM with
 * a random 12-byte nonce; the owner and version are the associated data (a blob decrypts only as
 * the version it was written for). The plaintext is padded to a multiple of 1 KiB, so a blob's size
 * tells a store only the context's size to the nearest KiB.
 *
 * Blob layout: "VCX1" (4 bytes) ‖ nonce (12) ‖ ciphertext ‖ GCM tag (16).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { ContextError } from "@verity/core";
import { type Hex, hexToBytes } from "viem";

export const CONTEXT_PAD_BYTES = 1024;
const MAGIC = new TextEncoder().encode("VCX1");
const SALT = "verity-context";
const INFO = "verity context aes-256-gcm key v1";

/** The 32-byte context key of a private key (HKDF-SHA256). */
export function deriveContextKey(args: { privateKey: Hex }): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", hexToBytes(args.privateKey), SALT, INFO, 32));
}

function aad(owner: string, version: number): Uint8Array {
  return new TextEncoder().encode(`verity-context:${owner.toLowerCase()}:${version}`);
}

/** 4-byte big-endian length ‖ bytes ‖ zeros up to a multiple of `CONTEXT_PAD_BYTES`. */
export function padContext(plain: Uint8Array): Uint8Array {
  const size = Math.ceil((plain.length + 4) / CONTEXT_PAD_BYTES) * CONTEXT_PAD_BYTES;
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, plain.length);
  out.set(plain, 4);
  return out;
}

function unpad(padded: Uint8Array): Uint8Array {
  const length = padded.length >= 4 ? new DataView(padded.buffer, padded.byteOffset).getUint32(0) : -1;
  if (length < 0 || length > padded.length - 4) {
    throw new ContextError("The decrypted context has a bad length prefix", { code: "context_decrypt_failed" });
  }
  return padded.subarray(4, 4 + length);
}

/** Encrypts `plaintext` (UTF-8 JSON) for `owner`'s version `version`. */
export function encryptContext(args: {
  key: Uint8Array;
  owner: string;
  version: number;
  plaintext: string;
}): Uint8Array {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", args.key, nonce);
  cipher.setAAD(aad(args.owner, args.version));
  const body = Buffer.concat([cipher.update(padContext(new TextEncoder().encode(args.plaintext))), cipher.final()]);
  return new Uint8Array(Buffer.concat([MAGIC, nonce, body, cipher.getAuthTag()]));
}

/** Decrypts a blob written by `encryptContext`; another key, owner, version or an altered byte: `context_decrypt_failed`. */
export function decryptContext(args: { key: Uint8Array; owner: string; version: number; blob: Uint8Array }): string {
  const { blob } = args;
  if (blob.length < 4 + 12 + 16 || !MAGIC.every((b, i) => blob[i] === b)) {
    throw new ContextError("The context blob is not a Verity context ciphertext", { code: "context_decrypt_failed" });
  }
  try {
    const decipher = createDecipheriv("aes-256-gcm", args.key, blob.subarray(4, 16));
    decipher.setAAD(aad(args.owner, args.version));
    decipher.setAuthTag(blob.subarray(blob.length - 16));
    const padded = Buffer.concat([decipher.update(blob.subarray(16, blob.length - 16)), decipher.final()]);
    return new TextDecoder().decode(unpad(new Uint8Array(padded)));
  } catch (error) {
    if (error instanceof ContextError) throw error;
    throw new ContextError("The context blob does not decrypt with this key", {
      code: "context_decrypt_failed",
      hint: "Use the key that wrote it; a blob altered in storage never decrypts",
      cause: error,
    });
  }
}
