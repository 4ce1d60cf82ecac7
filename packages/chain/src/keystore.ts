/**
 * Ethereum JSON keystores (Web3 Secret Storage Definition, version 3), the format geth, Foundry's
 * `cast wallet` and MetaMask exports use for a password-protected private key.
 *
 * - Encryption: scrypt (default n = 2^17, r = 8, p = 1; geth's "standard" is 2^18, which takes
 *   about a second on a two-core machine) → aes-128-ctr with the first 16 bytes of the derived key,
 *   MAC = keccak256(derivedKey[16..32] ‖ ciphertext).
 * - Decryption: scrypt or PBKDF2-HMAC-SHA256. The MAC is checked before anything is decrypted, so a
 *   wrong password fails with `keystore_password_invalid` and nothing else.
 * - KDF parameters come from a file anyone could have written: costs are bounded before any work
 *   (scrypt ≤ 1 GiB of memory and n ≤ 2^20, PBKDF2 ≤ 10M iterations).
 *
 * scrypt runs in OpenSSL (node:crypto, off the main thread). OpenSSL refuses n ≥ 2^(16·r) (for r = 1:
 * n ≥ 65,536), which the specification's own scrypt vector uses (n = 2^18, r = 1, p = 8); such files
 * fall back to @noble/hashes' scrypt (pure JS, a little slower).
 *
 * The password is used as its UTF-8 bytes, unnormalised (as geth does).
 */
import {
  createCipheriv,
  createDecipheriv,
  pbkdf2,
  randomBytes,
  randomUUID,
  scrypt,
  timingSafeEqual,
} from "node:crypto";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { scryptAsync } from "@noble/hashes/scrypt";
import { keccak_256 } from "@noble/hashes/sha3";
import { ConfigError } from "@verity/core";
import { privateKeyToAddress } from "viem/accounts";
import { z } from "zod";

export type ScryptParams = { n: number; r: number; p: number };

/** Default scrypt cost for new keystores: ~0.3 s and 128 MiB on one core. */
export const DEFAULT_KEYSTORE_SCRYPT: ScryptParams = { n: 1 << 17, r: 8, p: 1 };
/** Cheap scrypt cost for devnet and test keystores (~20 ms); not for keys that guard real funds. */
export const DEVNET_KEYSTORE_SCRYPT: ScryptParams = { n: 1 << 14, r: 8, p: 1 };

const MAX_SCRYPT_N = 1 << 20;
const MAX_SCRYPT_MEMORY = 1 << 30;
const MAX_PBKDF2_ITERATIONS = 10_000_000;

const hexBytes = (bytes: { min: number; max: number }) =>
  z
    .string()
    .transform((v) => v.replace(/^0x/, ""))
    .pipe(
      z
        .string()
        .regex(/^([0-9a-fA-F]{2})*$/, "must be hex")
        .refine(
          (v) => v.length / 2 >= bytes.min && v.length / 2 <= bytes.max,
          `must be ${bytes.min}–${bytes.max} bytes`,
        ),
    )
    .transform((v) => Buffer.from(v, "hex"));

const dklen = z.number().int().min(32).max(64);

const scryptParamsSchema = z
  .object({
    dklen,
    n: z
      .number()
      .int()
      .min(2)
      .max(MAX_SCRYPT_N)
      .refine((n) => (n & (n - 1)) === 0, "must be a power of two"),
    r: z.number().int().min(1).max(32),
    p: z.number().int().min(1).max(16),
    salt: hexBytes({ min: 1, max: 128 }),
  })
  .refine((k) => scryptMemory(k) <= MAX_SCRYPT_MEMORY, "scrypt would need more than 1 GiB of memory");

const pbkdf2ParamsSchema = z.object({
  dklen,
  c: z.number().int().min(1).max(MAX_PBKDF2_ITERATIONS),
  prf: z.literal("hmac-sha256"),
  salt: hexBytes({ min: 1, max: 128 }),
});

const cryptoSchema = z.intersection(
  z.object({
    cipher: z.literal("aes-128-ctr"),
    cipherparams: z.object({ iv: hexBytes({ min: 16, max: 16 }) }),
    ciphertext: hexBytes({ min: 32, max: 32 }),
    mac: hexBytes({ min: 32, max: 32 }),
  }),
  z.discriminatedUnion("kdf", [
    z.object({ kdf: z.literal("scrypt"), kdfparams: scryptParamsSchema }),
    z.object({ kdf: z.literal("pbkdf2"), kdfparams: pbkdf2ParamsSchema }),
  ]),
);

/** A v3 keystore as read from a file; older writers spell `crypto` as `Crypto`. */
const keystoreFileSchema = z
  .object({
    version: z.literal(3),
    crypto: cryptoSchema.optional(),
    Crypto: cryptoSchema.optional(),
    address: z
      .string()
      .regex(/^(0x)?[0-9a-fA-F]{40}$/)
      .optional(),
    id: z.string().optional(),
  })
  .refine((k) => (k.crypto ?? k.Crypto) !== undefined, "missing the `crypto` object");

/** A keystore as `encryptKeystore` writes it (geth's layout: lower-case hex without 0x). */
export type KeystoreJson = {
  address: string;
  crypto: {
    cipher: "aes-128-ctr";
    ciphertext: string;
    cipherparams: { iv: string };
    kdf: "scrypt";
    kdfparams: { dklen: 32; n: number; p: number; r: number; salt: string };
    mac: string;
  };
  id: string;
  version: 3;
};

function scryptMemory(k: { n: number; r: number; p: number }): number {
  return 128 * k.r * (k.n + k.p + 2);
}

async function deriveScrypt(password: Buffer, salt: Buffer, k: ScryptParams & { dklen: number }): Promise<Buffer> {
  if (16 * k.r < 64 && k.n >= 2 ** (16 * k.r)) {
    return Buffer.from(await scryptAsync(password, salt, { N: k.n, r: k.r, p: k.p, dkLen: k.dklen }));
  }
  const run = promisify(scrypt) as (
    password: Buffer,
    salt: Buffer,
    keylen: number,
    options: { N: number; r: number; p: number; maxmem: number },
  ) => Promise<Buffer>;
  return run(password, salt, k.dklen, { N: k.n, r: k.r, p: k.p, maxmem: scryptMemory(k) + (1 << 20) });
}

function mac(derivedKey: Buffer, ciphertext: Buffer): Buffer {
  return Buffer.from(keccak_256(Buffer.concat([derivedKey.subarray(16, 32), ciphertext])));
}

function aes128ctr(mode: "encrypt" | "decrypt", key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const cipher = mode === "encrypt" ? createCipheriv("aes-128-ctr", key, iv) : createDecipheriv("aes-128-ctr", key, iv);
  return Buffer.concat([cipher.update(data), cipher.final()]);
}

function addressOf(privateKey: `0x${string}`): `0x${string}` {
  try {
    return privateKeyToAddress(privateKey);
  } catch (cause) {
    throw new ConfigError("The private key is not a valid secp256k1 key", {
      code: "invalid_parameter",
      hint: "Give 32 bytes of hex, 0x-prefixed, between 1 and the curve order",
      cause,
    });
  }
}

/**
 * Encrypts a private key into a v3 keystore (scrypt + aes-128-ctr). `salt`, `iv` and `id` are
 * random unless given; give them only to reproduce a known file.
 */
export async function encryptKeystore(options: {
  privateKey: `0x${string}`;
  password: string;
  kdf?: ScryptParams;
  salt?: Uint8Array;
  iv?: Uint8Array;
  id?: string;
}): Promise<KeystoreJson> {
  if (!/^0x[0-9a-fA-F]{64}$/.test(options.privateKey)) {
    throw new ConfigError("The private key is not 32 bytes of 0x-prefixed hex", {
      code: "invalid_parameter",
      hint: "Give the key as 0x followed by 64 hex digits",
    });
  }
  const address = addressOf(options.privateKey);
  const kdf = options.kdf ?? DEFAULT_KEYSTORE_SCRYPT;
  const salt = Buffer.from(options.salt ?? randomBytes(32));
  const iv = Buffer.from(options.iv ?? randomBytes(16));
  const kdfparams = { dklen: 32 as const, n: kdf.n, p: kdf.p, r: kdf.r, salt: salt.toString("hex") };
  const checked = scryptParamsSchema.safeParse(kdfparams);
  if (!checked.success || iv.length !== 16) {
    throw new ConfigError("The keystore's scrypt parameters, salt or iv are out of range", {
      code: "invalid_parameter",
      hint: `Use n a power of two ≤ 2^20, r ≤ 32, p ≤ 16, at most 1 GiB of memory, and a 16-byte iv`,
      details: { n: kdf.n, r: kdf.r, p: kdf.p },
    });
  }
  const derivedKey = await deriveScrypt(Buffer.from(options.password, "utf8"), salt, { ...kdf, dklen: 32 });
  const ciphertext = aes128ctr(
    "encrypt",
    derivedKey.subarray(0, 16),
    iv,
    Buffer.from(options.privateKey.slice(2), "hex"),
  );
  return {
    address: address.slice(2).toLowerCase(),
    crypto: {
      cipher: "aes-128-ctr",
      ciphertext: ciphertext.toString("hex"),
      cipherparams: { iv: iv.toString("hex") },
      kdf: "scrypt",
      kdfparams,
      mac: mac(derivedKey, ciphertext).toString("hex"),
    },
    id: options.id ?? randomUUID(),
    version: 3,
  };
}

/** Decrypts a v3 keystore (object or JSON text) to its 0x-prefixed lower-case private key. */
export async function decryptKeystore(options: { json: unknown; password: string }): Promise<`0x${string}`> {
  let value = options.json;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch (cause) {
      throw new ConfigError("The keystore is not valid JSON", {
        code: "invalid_parameter",
        hint: "Give the keystore file exactly as geth, cast or MetaMask wrote it",
        cause,
      });
    }
  }
  const parsed = keystoreFileSchema.safeParse(value);
  if (!parsed.success) {
    throw new ConfigError("The keystore is not a supported Web3 Secret Storage v3 file", {
      code: "invalid_parameter",
      hint: "Supported: version 3, aes-128-ctr, scrypt or pbkdf2 (hmac-sha256) within sane cost limits",
      details: { issues: z.prettifyError(parsed.error) },
    });
  }
  const crypto = parsed.data.crypto ?? parsed.data.Crypto;
  if (crypto === undefined) throw new Error("unreachable: the schema requires crypto");
  const password = Buffer.from(options.password, "utf8");
  const derivedKey =
    crypto.kdf === "scrypt"
      ? await deriveScrypt(password, crypto.kdfparams.salt, crypto.kdfparams)
      : await promisify(pbkdf2)(password, crypto.kdfparams.salt, crypto.kdfparams.c, crypto.kdfparams.dklen, "sha256");
  if (!timingSafeEqual(mac(derivedKey, crypto.ciphertext), crypto.mac)) {
    throw new ConfigError("The keystore password is wrong", {
      code: "keystore_password_invalid",
      hint: "Check the password (it is case-sensitive); the keystore file itself is intact",
    });
  }
  const privateKey =
    `0x${aes128ctr("decrypt", derivedKey.subarray(0, 16), crypto.cipherparams.iv, crypto.ciphertext).toString("hex")}` as const;
  const stated = parsed.data.address;
  if (
    stated !== undefined &&
    addressOf(privateKey).slice(2).toLowerCase() !== stated.replace(/^0x/, "").toLowerCase()
  ) {
    throw new ConfigError("The keystore's address does not belong to the key it holds", {
      code: "invalid_parameter",
      hint: "The file was edited or assembled by a faulty tool; re-export it from the wallet",
      details: { address: stated },
    });
  }
  return privateKey;
}

/** Reads and decrypts a keystore file. */
export async function readKeystoreFile(options: { path: string; password: string }): Promise<`0x${string}`> {
  let text: string;
  try {
    text = await readFile(options.path, "utf8");
  } catch (cause) {
    throw new ConfigError(`Cannot read the keystore file ${options.path}`, {
      code: "invalid_parameter",
      hint: "Check the path and the file's permissions",
      cause,
    });
  }
  return decryptKeystore({ json: text, password: options.password });
}
