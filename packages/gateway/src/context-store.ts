import {
  ContextError,
  contextContentAddress,
  DEFAULT_CONTEXT_MAX_BYTES,
  type SignedContextVersion,
  verifyContextVersion,
  ZERO_HASH,
} from "@verity/core";
import type { GatewayStore } from "./store/index.ts";

/** One stored version: the owner's signed record and the encrypted blob it addresses. */
export type StoredContextVersion = { record: SignedContextVersion; blob: Uint8Array };

type Row = {
  owner: string;
  version: string | number;
  content: string;
  previous: string;
  record_hash: string;
  signature: string;
  blob: Uint8Array;
};

function fromRow(row: Row): StoredContextVersion {
  return {
    record: {
      owner: row.owner as `0x${string}`,
      version: Number(row.version),
      content: row.content as `0x${string}`,
      previous: row.previous as `0x${string}`,
      signature: row.signature as `0x${string}`,
    },
    blob: new Uint8Array(row.blob),
  };
}

/**
 * The gateway's context blob store: signed versions and their encrypted blobs, per owner. It checks
 * everything a store can without the key — the owner's signature, the content address, the size
 * and that each version extends the latest one by exactly one with the latest record's hash — and
 * stores nothing else. Two writers of the same next version: the primary key lets one in, the other
 * is `context_version_stale`.
 */
export function createContextStore(options: { store: GatewayStore; maxBytes?: number; now?: () => number }) {
  const maxBytes = options.maxBytes ?? DEFAULT_CONTEXT_MAX_BYTES;
  const now = options.now ?? Date.now;

  async function put(args: StoredContextVersion): Promise<{ version: number; recordHash: `0x${string}` }> {
    const { record, blob } = args;
    if (blob.length > maxBytes) {
      throw new ContextError(`The context blob is ${blob.length} bytes, above the limit of ${maxBytes}`, {
        code: "context_too_large",
        details: { size: blob.length, maxBytes },
      });
    }
    const recordHash = await verifyContextVersion({ signed: record });
    if (contextContentAddress({ blob }) !== record.content.toLowerCase()) {
      throw new ContextError("The blob does not hash to the content the version signs", {
        code: "context_content_mismatch",
        details: { version: record.version, content: record.content },
      });
    }
    const owner = record.owner.toLowerCase();
    return options.store.transaction(async (tx) => {
      const [latest] = await tx.query<{ version: string; record_hash: string }>(
        "SELECT version, record_hash FROM context_versions WHERE owner = $1 ORDER BY version DESC LIMIT 1",
        [owner],
      );
      const latestVersion = latest ? Number(latest.version) : 0;
      const latestHash = latest?.record_hash ?? ZERO_HASH;
      if (record.version <= latestVersion) {
        throw new ContextError(`Context version ${record.version} is not above the stored ${latestVersion}`, {
          code: "context_version_stale",
          details: { version: record.version, latest: latestVersion },
        });
      }
      if (record.version !== latestVersion + 1 || record.previous.toLowerCase() !== latestHash.toLowerCase()) {
        throw new ContextError(`Context version ${record.version} does not follow the stored ${latestVersion}`, {
          code: "context_chain_broken",
          details: { version: record.version, latest: latestVersion, expectedPrevious: latestHash },
        });
      }
      const inserted = await tx.query(
        `INSERT INTO context_versions (owner, version, content, previous, record_hash, signature, blob, size, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (owner, version) DO NOTHING RETURNING version`,
        [
          owner,
          record.version,
          record.content.toLowerCase(),
          record.previous.toLowerCase(),
          recordHash,
          record.signature,
          blob,
          blob.length,
          now(),
        ],
      );
      if (inserted.length === 0) {
        throw new ContextError(`Context version ${record.version} was stored by a concurrent writer first`, {
          code: "context_version_stale",
          details: { version: record.version },
        });
      }
      return { version: record.version, recordHash };
    });
  }

  async function get(args: { owner: string; version?: number }): Promise<StoredContextVersion> {
    const owner = args.owner.toLowerCase();
    const rows =
      args.version === undefined
        ? await options.store.query<Row>(
            "SELECT * FROM context_versions WHERE owner = $1 ORDER BY version DESC LIMIT 1",
            [owner],
          )
        : await options.store.query<Row>("SELECT * FROM context_versions WHERE owner = $1 AND version = $2", [
            owner,
            args.version,
          ]);
    const row = rows[0];
    if (!row) {
      throw new ContextError(
        args.version === undefined
          ? `No context is stored for ${owner}`
          : `No context version ${args.version} is stored for ${owner}`,
        {
          code: "context_not_found",
          details: { owner, ...(args.version === undefined ? {} : { version: args.version }) },
        },
      );
    }
    return fromRow(row);
  }

  return { put, get, maxBytes };
}

export type ContextStore = ReturnType<typeof createContextStore>;
