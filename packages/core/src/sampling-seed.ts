/**
 * Seed-synced sampling: the 32-byte `seedKey` a paid request is sampled with, derived from data both
 * sides know and a secret only the client holds, so the provider cannot choose it:
 *
 *   seedKey     = keccak256(encodePacked("verity.seed.v1", chainId:uint256, channelId:bytes32,
 *                                        voucherAmount:uint256, auditSecret:bytes32))
 *   auditCommit = keccak256(encodePacked("verity.audit-commit.v1", auditSecret:bytes32))
 *
 * `voucherAmount` is the cumulative amount of the voucher that pays the request: vouchers of a
 * channel strictly increase (a reused amount is `voucher_replayed`), so it names one request of the
 * channel. `auditSecret` is random per channel and revealed only to auditors, who check both
 * hashes; the provider sees the key and the commitment, never the secret.
 */
import { encodePacked, keccak256 } from "viem";

type Hex32 = `0x${string}`;

/** 0x-prefixed 32-byte hex (either case). */
export const HEX32_PATTERN = /^0x[0-9a-fA-F]{64}$/;

export const SEED_KEY_DOMAIN = "verity.seed.v1";
export const AUDIT_COMMIT_DOMAIN = "verity.audit-commit.v1";

export function isHex32(value: unknown): value is `0x${string}` {
  return typeof value === "string" && HEX32_PATTERN.test(value);
}

function hex32(name: string, value: string): Hex32 {
  if (!isHex32(value)) throw new RangeError(`${name} must be 0x-prefixed 32-byte hex`);
  return value.toLowerCase() as Hex32;
}

/** The seed key of the request paid by the voucher of `voucherAmount` on `channelId` (lowercase hex). */
export function deriveSeedKey(args: {
  chainId: number | bigint;
  channelId: string;
  voucherAmount: bigint;
  auditSecret: string;
}): Hex32 {
  if (args.voucherAmount < 0n) throw new RangeError("voucherAmount must be non-negative");
  return keccak256(
    encodePacked(
      ["string", "uint256", "bytes32", "uint256", "bytes32"],
      [
        SEED_KEY_DOMAIN,
        BigInt(args.chainId),
        hex32("channelId", args.channelId),
        args.voucherAmount,
        hex32("auditSecret", args.auditSecret),
      ],
    ),
  );
}

/** The commitment to an audit secret a client binds into every receipt of its channel. */
export function auditCommitOf(auditSecret: string): Hex32 {
  return keccak256(encodePacked(["string", "bytes32"], [AUDIT_COMMIT_DOMAIN, hex32("auditSecret", auditSecret)]));
}

/** What a seed-synced request sends to the provider. */
export type SeedFields = { seedKey: Hex32; auditCommit: Hex32 };

/** `seedKey` and `auditCommit` of one request. */
export function seedFieldsFor(args: {
  chainId: number | bigint;
  channelId: string;
  voucherAmount: bigint;
  auditSecret: string;
}): SeedFields {
  return { seedKey: deriveSeedKey(args), auditCommit: auditCommitOf(args.auditSecret) };
}
