/**
 * Portable user context: each version of a user's encrypted context is an EIP-712 `ContextVersion`
 * signed by its owner — the version number, the content address of the encrypted blob
 * (sha256 of its bytes) and the hash of the previous version's record (zero for version 1). Any
 * store (the gateway, a provider, a folder) keeps records and blobs; none can forge a version,
 * alter a blob, or splice the chain, and a reader that remembers the last version it saw refuses a
 * rollback.
 *
 * The domain is "Verity Context" v1 without a chain id or verifying contract: a user's context is
 * not tied to a chain or deployment, so the same signed chain moves between networks unchanged.
 * Replaying a record elsewhere only copies the owner's own (encrypted) data.
 */
import { type Hex, hashTypedData, type LocalAccount, recoverTypedDataAddress, sha256 } from "viem";
import { z } from "zod";
import { BaseError, RequestError } from "./errors.ts";

/** A context version, blob or chain was refused. */
export class ContextError extends BaseError {
  override name = "ContextError";
}

export const contextVersionTypes = {
  ContextVersion: [
    { name: "owner", type: "address" },
    { name: "version", type: "uint64" },
    { name: "content", type: "bytes32" },
    { name: "previous", type: "bytes32" },
  ],
} as const;

export const contextDomain = { name: "Verity Context", version: "1" } as const;

/** The `previous` of version 1. */
export const ZERO_HASH: Hex = `0x${"00".repeat(32)}`;

/** Largest encrypted blob a store accepts by default (256 KiB). */
export const DEFAULT_CONTEXT_MAX_BYTES = 256 * 1024;

export type ContextVersion = {
  owner: Hex;
  /** 1, 2, 3, … (each exactly one above the previous). */
  version: number;
  /** sha256 of the encrypted blob. */
  content: Hex;
  /** `contextRecordHash` of the previous version, `ZERO_HASH` for version 1. */
  previous: Hex;
};

export type SignedContextVersion = ContextVersion & { signature: Hex };

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/) as unknown as z.ZodType<Hex>;

/** A signed version as JSON: what stores keep and serve. */
export const signedContextVersionSchema = z
  .object({
    owner: z.string().regex(/^0x[0-9a-fA-F]{40}$/) as unknown as z.ZodType<Hex>,
    version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    content: hex32,
    previous: hex32,
    signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/) as unknown as z.ZodType<Hex>,
  })
  .strict();

function typed(record: ContextVersion) {
  return {
    domain: contextDomain,
    types: contextVersionTypes,
    primaryType: "ContextVersion" as const,
    message: {
      owner: record.owner,
      version: BigInt(record.version),
      content: record.content,
      previous: record.previous,
    },
  };
}

/** The EIP-712 digest of a version record: what the next version names as `previous`. */
export function contextRecordHash(args: { record: ContextVersion }): Hex {
  return hashTypedData(typed(args.record));
}

/** The content address of an encrypted blob (sha256 of its bytes). */
export function contextContentAddress(args: { blob: Uint8Array }): Hex {
  return sha256(args.blob);
}

/** Signs a version with the owner's key (`record.owner` must be `account`'s address). */
export async function signContextVersion(args: {
  account: LocalAccount;
  record: ContextVersion;
}): Promise<SignedContextVersion> {
  if (args.record.owner.toLowerCase() !== args.account.address.toLowerCase()) {
    throw new ContextError("A context version is signed by its owner only", {
      code: "context_signature_invalid",
      details: { owner: args.record.owner, signer: args.account.address },
    });
  }
  const signature = await args.account.signTypedData(typed(args.record));
  return { ...args.record, signature };
}

/**
 * Checks that `signed` is signed by the owner it names; returns its record hash. Refused:
 * `context_signature_invalid`.
 */
export async function verifyContextVersion(args: { signed: SignedContextVersion }): Promise<Hex> {
  const { signature, ...record } = args.signed;
  let signer: Hex | undefined;
  try {
    signer = await recoverTypedDataAddress({ ...typed(record), signature });
  } catch {
    signer = undefined;
  }
  if (!signer || signer.toLowerCase() !== record.owner.toLowerCase()) {
    throw new ContextError(`Context version ${record.version} is not signed by its owner ${record.owner}`, {
      code: "context_signature_invalid",
      hint: "Only the owner's key signs its context versions",
      details: { owner: record.owner, version: record.version, ...(signer ? { signer } : {}) },
    });
  }
  return contextRecordHash({ record });
}

/**
 * Refuses a chat or completion body that still carries a `verity_context` reference: the SDK
 * resolves it on the user's machine (it alone holds the key), so one reaching a gateway or a
 * provider was sent by a client that did not — `context_unresolved`.
 */
export function refuseUnresolvedContext(body: unknown): void {
  if (body !== null && typeof body === "object" && Object.hasOwn(body, "verity_context")) {
    throw new RequestError("The request carries an unresolved verity_context reference", {
      code: "context_unresolved",
      hint: "Send it through the Verity SDK (createContextFetch or VerityClient with a context client), which decrypts and inserts the selected context before the request leaves",
    });
  }
}
