/**
 * A user's portable context, from the user's side: `put` encrypts, content-addresses and signs the
 * next version over the previous one; `get` fetches, verifies the signature, the content address and
 * the chain back to the last version this client saw, then decrypts. A store that serves an older
 * version than one seen is refused `context_version_stale`, one whose chain does not lead back to it
 * `context_chain_broken`. `export` / `import` move the whole signed chain between backends.
 *
 * What this client has seen is kept in memory, and in `stateFile` when given (the CLI keeps one per
 * owner), so rollback protection survives restarts. A client that has seen nothing yet (a new
 * machine with only the key) accepts the latest correctly signed version it is served.
 */
import { readFileSync, writeFileSync } from "node:fs";
import {
  ContextError,
  contextContentAddress,
  contextRecordHash,
  signContextVersion,
  verifyContextVersion,
  ZERO_HASH,
} from "@verity/core";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { ContextBackend, StoredContext } from "./context-backends.ts";
import { storedFromJson, storedToJson } from "./context-backends.ts";
import { decryptContext, deriveContextKey, encryptContext } from "./context-crypto.ts";
import { type StoredContextJson, type UserContext, userContextSchema } from "./context-schema.ts";

export type ContextClientOptions = {
  /** The user's private key: it signs every version and the encryption key is derived from it. */
  privateKey: Hex;
  backend: ContextBackend;
  /** A JSON file remembering the last version seen `{ version, recordHash }` (default: memory only). */
  stateFile?: string;
};

export type ContextVersionInfo = { version: number; content: Hex; recordHash: Hex; size: number };

export type ContextExport = {
  format: "verity-context-export/1";
  owner: Hex;
  /** The latest context in plaintext (the owner's own copy). */
  context: UserContext | null;
  /** Every stored version, oldest first, encrypted and signed. */
  versions: StoredContextJson[];
};

type Seen = { version: number; recordHash: Hex };

export function createContextClient(options: ContextClientOptions) {
  const account = privateKeyToAccount(options.privateKey);
  const owner = account.address;
  const key = deriveContextKey({ privateKey: options.privateKey });
  const { backend } = options;
  let seen: Seen | undefined = readSeen();

  function readSeen(): Seen | undefined {
    if (!options.stateFile) return undefined;
    try {
      const json = JSON.parse(readFileSync(options.stateFile, "utf8")) as Seen & { owner?: string };
      return json.owner?.toLowerCase() === owner.toLowerCase() ? json : undefined;
    } catch {
      return undefined;
    }
  }

  function remember(next: Seen): void {
    if (seen && next.version <= seen.version) return;
    seen = next;
    if (options.stateFile) writeFileSync(options.stateFile, JSON.stringify({ owner, ...next }));
  }

  /** Signature, owner and content address of one stored version; returns its record hash. */
  async function check(stored: StoredContext, version?: number): Promise<Hex> {
    if (stored.record.owner.toLowerCase() !== owner.toLowerCase()) {
      throw new ContextError("The store served another owner's context", {
        code: "context_signature_invalid",
        details: { owner, served: stored.record.owner },
      });
    }
    if (version !== undefined && stored.record.version !== version) {
      throw new ContextError(`Asked for version ${version}, served ${stored.record.version}`, {
        code: "context_chain_broken",
      });
    }
    const hash = await verifyContextVersion({ signed: stored.record });
    if (contextContentAddress({ blob: stored.blob }) !== stored.record.content.toLowerCase()) {
      throw new ContextError(`The blob of version ${stored.record.version} does not hash to its signed content`, {
        code: "context_content_mismatch",
        details: { version: stored.record.version },
      });
    }
    return hash;
  }

  async function fetchAt(version: number): Promise<StoredContext> {
    const stored = await backend.at(owner, version);
    if (!stored) {
      throw new ContextError(`Context version ${version} is not in the store`, {
        code: "context_blob_missing",
        details: { version },
      });
    }
    return stored;
  }

  /** The latest version, verified and chained back to the last one seen; undefined when none is stored. */
  async function latestVerified(): Promise<{ stored: StoredContext; recordHash: Hex } | undefined> {
    const latest = await backend.latest(owner);
    if (!latest) {
      if (seen) {
        throw new ContextError(`The store has no context, but version ${seen.version} was seen`, {
          code: "context_version_stale",
          hint: "Moving to a new store? Copy the chain there first: import() an export() of the old one",
          details: { seen: seen.version },
        });
      }
      return undefined;
    }
    const recordHash = await check(latest);
    const version = latest.record.version;
    if (seen) {
      if (version < seen.version) {
        throw new ContextError(`The store serves version ${version}, older than the ${seen.version} seen`, {
          code: "context_version_stale",
          details: { version, seen: seen.version },
        });
      }
      // walk back from the latest to the version seen: each record must name the one before it
      let leadsBack = recordHash.toLowerCase() === seen.recordHash.toLowerCase();
      let previous = latest.record.previous.toLowerCase();
      for (let v = version - 1; v >= seen.version; v--) {
        if (v === seen.version) {
          leadsBack = previous === seen.recordHash.toLowerCase();
          break;
        }
        const stored = await fetchAt(v);
        if ((await check(stored, v)).toLowerCase() !== previous) break;
        previous = stored.record.previous.toLowerCase();
      }
      if (!leadsBack) {
        throw new ContextError(`Version ${version} does not chain back to the version ${seen.version} seen`, {
          code: "context_chain_broken",
          details: { version, seen: seen.version },
        });
      }
    }
    remember({ version, recordHash });
    return { stored: latest, recordHash };
  }

  function open(stored: StoredContext): UserContext {
    const text = decryptContext({ key, owner, version: stored.record.version, blob: stored.blob });
    const parsed = userContextSchema.safeParse(JSON.parse(text));
    if (!parsed.success) {
      throw new ContextError("The decrypted context is not a valid context", { code: "context_decrypt_failed" });
    }
    return parsed.data;
  }

  /** Writes `context` as the next version (1 when none is stored). */
  async function put(context: UserContext): Promise<ContextVersionInfo> {
    const parsed = userContextSchema.parse(context);
    const latest = await latestVerified();
    const version = (latest?.stored.record.version ?? 0) + 1;
    const blob = encryptContext({ key, owner, version, plaintext: JSON.stringify(parsed) });
    const content = contextContentAddress({ blob });
    const record = await signContextVersion({
      account,
      record: { owner, version, content, previous: latest?.recordHash ?? ZERO_HASH },
    });
    await backend.put({ record, blob });
    const recordHash = contextRecordHash({ record });
    remember({ version, recordHash });
    return { version, content, recordHash, size: blob.length };
  }

  /** The latest context (or `version`), verified and decrypted; undefined when none is stored. */
  async function get(
    args: { version?: number } = {},
  ): Promise<{ context: UserContext; version: ContextVersionInfo } | undefined> {
    let stored: StoredContext;
    let recordHash: Hex;
    if (args.version === undefined) {
      const latest = await latestVerified();
      if (!latest) return undefined;
      ({ stored, recordHash } = latest);
    } else {
      const found = await backend.at(owner, args.version);
      if (!found) return undefined;
      stored = found;
      recordHash = await check(stored, args.version);
    }
    return {
      context: open(stored),
      version: {
        version: stored.record.version,
        content: stored.record.content,
        recordHash,
        size: stored.blob.length,
      },
    };
  }

  /** Every version (verified as one chain) and the latest plaintext. */
  async function exportAll(): Promise<ContextExport> {
    const latest = await latestVerified();
    if (!latest) return { format: "verity-context-export/1", owner, context: null, versions: [] };
    const chain: StoredContext[] = [latest.stored];
    for (let v = latest.stored.record.version - 1; v >= 1; v--) {
      const stored = await fetchAt(v);
      const hash = await check(stored, v);
      if (hash.toLowerCase() !== chain[0]?.record.previous.toLowerCase()) {
        throw new ContextError(`Version ${v + 1} does not follow version ${v}`, { code: "context_chain_broken" });
      }
      chain.unshift(stored);
    }
    return {
      format: "verity-context-export/1",
      owner,
      context: open(latest.stored),
      versions: chain.map(storedToJson),
    };
  }

  /** Copies an exported chain into this client's backend (versions it already holds are skipped). */
  async function importAll(bundle: ContextExport): Promise<{ imported: number }> {
    const have = (await backend.latest(owner))?.record.version ?? 0;
    let imported = 0;
    let previous: Hex = ZERO_HASH;
    for (const json of bundle.versions) {
      const stored = storedFromJson(json);
      const hash = await check(stored);
      if (stored.record.previous.toLowerCase() !== previous.toLowerCase()) {
        throw new ContextError(`Version ${stored.record.version} does not follow its predecessor`, {
          code: "context_chain_broken",
        });
      }
      previous = hash;
      if (stored.record.version <= have) continue;
      await backend.put(stored);
      imported++;
    }
    return { imported };
  }

  return {
    owner,
    put,
    get,
    export: exportAll,
    import: importAll,
    /** The last version this client has seen (undefined before the first get or put). */
    seen: () => seen,
  };
}

export type ContextClient = ReturnType<typeof createContextClient>;
