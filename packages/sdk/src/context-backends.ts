/**
 * Where encrypted context versions are kept. A backend only stores and serves `{ record, blob }`;
 * the context client verifies everything it reads, so a backend is trusted for availability only.
 * Two ship: the gateway's store over HTTP (`/v1/context/:owner`) and a folder of files (one per
 * version), e.g. a synced drive or a USB stick.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BaseError, ContextError, isReasonCode, RequestError, type SignedContextVersion } from "@verity/core";
import { type StoredContextJson, storedContextJsonSchema } from "./context-schema.ts";

export type StoredContext = { record: SignedContextVersion; blob: Uint8Array };

export type ContextBackend = {
  /** Stores the next version; one already stored at that version is `context_version_stale`. */
  put(stored: StoredContext): Promise<void>;
  /** The latest stored version, or undefined when the owner has none. */
  latest(owner: string): Promise<StoredContext | undefined>;
  /** One version, or undefined when it is not stored. */
  at(owner: string, version: number): Promise<StoredContext | undefined>;
};

export function storedToJson(stored: StoredContext): StoredContextJson {
  return { record: stored.record, blob: Buffer.from(stored.blob).toString("base64") };
}

export function storedFromJson(json: unknown): StoredContext {
  const parsed = storedContextJsonSchema.safeParse(json);
  if (!parsed.success) {
    throw new ContextError("The stored context version is malformed", {
      code: "context_blob_missing",
      details: { issue: parsed.error.issues[0]?.message },
    });
  }
  return { record: parsed.data.record, blob: new Uint8Array(Buffer.from(parsed.data.blob, "base64")) };
}

async function refusal(res: Response): Promise<BaseError> {
  const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  const code = body.error?.code;
  const message = body.error?.message ?? `The context store answered ${res.status}`;
  return code && isReasonCode(code)
    ? new ContextError(message, { code, details: { status: res.status } })
    : new RequestError(message, { code: "upstream_error", details: { status: res.status } });
}

/** The gateway's context store at `url` (the gateway's base URL). */
export function createHttpContextBackend(options: { url: string; fetch?: typeof fetch }): ContextBackend {
  const base = options.url.replace(/\/+$/, "");
  const doFetch = options.fetch ?? fetch;
  async function read(path: string): Promise<StoredContext | undefined> {
    const res = await doFetch(`${base}${path}`);
    if (res.status === 404) {
      const error = await refusal(res);
      if (error.code === "context_not_found") return undefined;
      throw error;
    }
    if (!res.ok) throw await refusal(res);
    return storedFromJson(await res.json());
  }
  return {
    async put(stored) {
      const res = await doFetch(`${base}/v1/context/${stored.record.owner.toLowerCase()}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(storedToJson(stored)),
      });
      if (!res.ok) throw await refusal(res);
    },
    latest: (owner) => read(`/v1/context/${owner.toLowerCase()}`),
    at: (owner, version) => read(`/v1/context/${owner.toLowerCase()}/${version}`),
  };
}

/**
 * A folder of versions: `<dir>/<owner>/<version>.json`, each `{ record, blob }`. A version is
 * written with exclusive create, so of two writers of the same version one wins.
 */
export function createFolderContextBackend(options: { dir: string }): ContextBackend {
  const folder = (owner: string) => join(options.dir, owner.toLowerCase());
  function versions(owner: string): number[] {
    try {
      return readdirSync(folder(owner))
        .flatMap((f) => (/^\d+\.json$/.test(f) ? [Number(f.slice(0, -5))] : []))
        .sort((a, b) => a - b);
    } catch {
      return [];
    }
  }
  function at(owner: string, version: number): StoredContext | undefined {
    let text: string;
    try {
      text = readFileSync(join(folder(owner), `${version}.json`), "utf8");
    } catch {
      return undefined;
    }
    return storedFromJson(JSON.parse(text));
  }
  return {
    async put(stored) {
      mkdirSync(folder(stored.record.owner), { recursive: true });
      try {
        writeFileSync(
          join(folder(stored.record.owner), `${stored.record.version}.json`),
          JSON.stringify(storedToJson(stored)),
          { flag: "wx" },
        );
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        throw new ContextError(`Context version ${stored.record.version} is already in the folder`, {
          code: "context_version_stale",
          details: { version: stored.record.version },
        });
      }
    },
    async latest(owner) {
      const last = versions(owner).at(-1);
      return last === undefined ? undefined : at(owner, last);
    },
    async at(owner, version) {
      return at(owner, version);
    },
  };
}
