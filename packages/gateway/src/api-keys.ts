import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import {
  AuthError,
  isFullKeyScope,
  type KeyScope,
  KeyScopeParseError,
  keyStatement,
  PaymentError,
  parseKeyScopeResources,
  RequestError,
} from "@verity/core";
import { type PublicClient, verifyMessage } from "viem";
import { createSiweMessage, parseSiweMessage } from "viem/siwe";
import { createKeyRateLimits } from "./key-rate-limits.ts";
import type { Hold, PrepaidLedgerHooks } from "./prepaid-ledger.ts";
import type { GatewayStore, StoreQueryable, StoreTx } from "./store/index.ts";

/** One API key as its owner sees it (never the secret: only its hash is stored). */
export type ApiKey = {
  id: string;
  owner: `0x${string}`;
  scope: KeyScope;
  /** What the key has been charged so far, in base units. */
  spent: bigint;
  createdAt: number;
  revokedAt?: number;
  revokedReason?: "owner" | "unproven";
};

type Row = {
  key_hash: string;
  id: string;
  owner: string;
  label: string | null;
  spend_limit: string | null;
  spent: string;
  models: string | null;
  expires_at: string | null;
  created_at: string;
  revoked_at: string | null;
  revoked_reason: string | null;
  limits: string | null;
};

/** The scope fields kept in the `limits` JSON column (amounts as decimal strings). */
type StoredLimits = { maxPerCall?: string; dailyLimit?: string; rpm?: number; tpm?: number; concurrency?: number };

function limitsJson(scope: KeyScope): string | null {
  const l: StoredLimits = {
    ...(scope.maxPerCall === undefined ? {} : { maxPerCall: scope.maxPerCall.toString() }),
    ...(scope.dailyLimit === undefined ? {} : { dailyLimit: scope.dailyLimit.toString() }),
    ...(scope.rpm === undefined ? {} : { rpm: scope.rpm }),
    ...(scope.tpm === undefined ? {} : { tpm: scope.tpm }),
    ...(scope.concurrency === undefined ? {} : { concurrency: scope.concurrency }),
  };
  return Object.keys(l).length === 0 ? null : JSON.stringify(l);
}

function limitsOf(json: string | null | undefined): Partial<KeyScope> {
  if (!json) return {};
  const l = JSON.parse(json) as StoredLimits;
  return {
    ...(l.maxPerCall === undefined ? {} : { maxPerCall: BigInt(l.maxPerCall) }),
    ...(l.dailyLimit === undefined ? {} : { dailyLimit: BigInt(l.dailyLimit) }),
    ...(l.rpm === undefined ? {} : { rpm: l.rpm }),
    ...(l.tpm === undefined ? {} : { tpm: l.tpm }),
    ...(l.concurrency === undefined ? {} : { concurrency: l.concurrency }),
  };
}

const DAY_MS = 86_400_000;

const hashKey = (key: string) => createHash("sha256").update(key).digest("hex");

const nonceError = () =>
  new AuthError("The sign-in nonce is unknown, expired or already used", {
    code: "key_nonce_invalid",
    hint: "Ask POST /v1/keys/nonce for a fresh nonce",
  });

/** The gateway's nonce secret, made once and kept in its store (so its replicas share it). */
async function nonceSecret(store: GatewayStore): Promise<Buffer> {
  await store.query("INSERT INTO key_nonce_secret (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING", [
    randomBytes(32).toString("hex"),
  ]);
  const [row] = await store.query<{ secret: string }>("SELECT secret FROM key_nonce_secret WHERE id = 1");
  return Buffer.from(row?.secret ?? "", "hex");
}

const nonceMac = (secret: Buffer, body: string) => createHmac("sha256", secret).update(body).digest("hex").slice(0, 32);

/** The expiry (ms) of a nonce this gateway issued and that has not expired, else undefined. */
function checkNonce(args: { secret: Buffer; nonce: string; at: number }): number | undefined {
  if (!/^[0-9a-f]{60}$/.test(args.nonce)) return undefined;
  const body = args.nonce.slice(0, 28);
  const mac = Buffer.from(args.nonce.slice(28), "hex");
  const expected = Buffer.from(nonceMac(args.secret, body), "hex");
  if (!timingSafeEqual(mac, expected)) return undefined;
  const expires = Number.parseInt(body.slice(0, 12), 16);
  return expires > args.at ? expires : undefined;
}

/** The message a SIWE library writes for these fields (what a wallet shows and signs). */
function canonicalSiwe(siwe: ReturnType<typeof parseSiweMessage>): string {
  try {
    return createSiweMessage(siwe as Parameters<typeof createSiweMessage>[0]);
  } catch {
    return "";
  }
}

function toApiKey(row: Row): ApiKey {
  const scope: KeyScope = {
    ...(row.spend_limit === null ? {} : { spendLimit: BigInt(row.spend_limit) }),
    ...(row.models === null ? {} : { models: JSON.parse(row.models) as string[] }),
    ...(row.expires_at === null ? {} : { expiresAt: Number(row.expires_at) }),
    ...(row.label === null ? {} : { label: row.label }),
    ...limitsOf(row.limits),
  };
  return {
    id: row.id,
    owner: row.owner as `0x${string}`,
    scope,
    spent: BigInt(row.spent),
    createdAt: Number(row.created_at),
    ...(row.revoked_at === null ? {} : { revokedAt: Number(row.revoked_at) }),
    ...(row.revoked_reason === null ? {} : { revokedReason: row.revoked_reason as "owner" | "unproven" }),
  };
}

/**
 * Gateway API keys bound to a Sign-In-with-Ethereum (EIP-4361) proof. The owner asks for a
 * single-use nonce, signs a message for this gateway (its domain, chain id and `verity:gateway`
 * address) whose `resources` carry the key's scope, and gets a key that spends only that owner's
 * prepaid balance, within that scope, until it expires or the owner revokes it.
 */
/** Throws `api_key_revoked` / `api_key_expired` (401) for a key that may no longer be used. */
function refuseUnusable(apiKey: ApiKey, at: number): void {
  if (apiKey.revokedAt !== undefined) {
    throw new AuthError(
      apiKey.revokedReason === "unproven"
        ? "This API key was minted without proof of its owner and no longer works"
        : "This API key was revoked by its owner",
      { code: "api_key_revoked", hint: "Create a new key with `verity keys create`", details: { id: apiKey.id } },
    );
  }
  if (apiKey.scope.expiresAt !== undefined && apiKey.scope.expiresAt * 1000 <= at) {
    throw new AuthError("This API key has expired", {
      code: "api_key_expired",
      hint: "Create a new key with `verity keys create`",
      details: { id: apiKey.id },
    });
  }
}

/** Most keys the paid path keeps looked up at once (oldest dropped first). */
const AUTH_CACHE_MAX = 10_000;

export function createApiKeys(options: {
  store: GatewayStore;
  chainId: number;
  gateway: `0x${string}`;
  /** Verifies contract-wallet (ERC-1271) signatures when plain ECDSA recovery does not match. */
  publicClient?: PublicClient;
  /**
   * The host names (`host[:port]`) this gateway answers on — its public URL's. A sign-in message must
   * name one as its `domain` and its `uri` must be on it; the request's own Host header is never
   * trusted (a phishing site would set it to its own name).
   */
  domains: () => string[];
  nonceTtlMs?: number;
  /** How far `issuedAt` may be from the gateway's clock. */
  clockSkewMs?: number;
  now?: () => number;
  /**
   * How long the paid path may reuse a key it looked up (default 5 s). Safe because the hold
   * transaction re-reads the key's row under a lock and refuses a revoked or expired key there.
   */
  authCacheMs?: number;
}) {
  const { store } = options;
  const now = options.now ?? Date.now;
  const authCacheMs = options.authCacheMs ?? 5_000;
  /** key hash → the row and when it was read; only keys that authenticated, at most AUTH_CACHE_MAX. */
  const authCache = new Map<string, { row: Row; at: number }>();
  const nonceTtl = options.nonceTtlMs ?? 5 * 60_000;
  const skew = options.clockSkewMs ?? 5 * 60_000;
  const byId = async (id: string, tx: StoreQueryable = store, lock = "") =>
    (await tx.query<Row>(`SELECT * FROM api_keys WHERE id = $1${lock}`, [id]))[0];
  const secret = nonceSecret(store);

  const proofError = (message: string, hint?: string) =>
    new AuthError(message, {
      code: "key_proof_invalid",
      hint: hint ?? "Ask POST /v1/keys/nonce for a fresh nonce and sign a new message (`verity keys create` does both)",
    });

  const rateLimits = createKeyRateLimits({ now });

  return {
    /** The keys' signed rates (requests/tokens per minute, concurrency), counted per replica. */
    rateLimits,
    /**
     * A nonce for one sign-in message, valid for a few minutes: stateless (its expiry and an HMAC
     * under the gateway's secret), so issuing costs nothing and cannot be flooded; it is recorded
     * only when a key is minted with it, which makes it single-use.
     */
    async issueNonce(): Promise<{ nonce: string; issuedAt: string; expiresAt: string }> {
      const at = now();
      const key = await secret;
      const expires = at + nonceTtl;
      const body = `${expires.toString(16).padStart(12, "0")}${randomBytes(8).toString("hex")}`;
      return {
        nonce: `${body}${nonceMac(key, body)}`,
        issuedAt: new Date(at).toISOString(),
        expiresAt: new Date(expires).toISOString(),
      };
    },

    /**
     * Mints a key from a signed sign-in message. Checks, in order: the message parses; it is for
     * this chain, this gateway and an allowed domain; its time window holds; its scope parses; the
     * signature is the owner's; then consumes the nonce and stores the key in one transaction.
     */
    async mint(args: { message: string; signature: `0x${string}` }): Promise<{
      key: string;
      apiKey: ApiKey;
    }> {
      const siwe = parseSiweMessage(args.message);
      if (!siwe.address || !siwe.nonce || !siwe.domain || !siwe.uri || siwe.version !== "1" || !siwe.issuedAt) {
        throw proofError(
          "The sign-in message is not a complete EIP-4361 message (address, domain, uri, nonce, issued-at)",
        );
      }
      // Only the canonical text counts: viem's parser skips lines it does not know, so a message
      // could show the signer a scope the gateway would never read.
      if (canonicalSiwe(siwe) !== args.message) {
        throw proofError(
          "The sign-in message is not in canonical EIP-4361 form",
          "Build it with a SIWE library (viem createSiweMessage)",
        );
      }
      if (siwe.chainId !== options.chainId) {
        throw new RequestError(
          `The sign-in message is for chain ${siwe.chainId}; this gateway is on ${options.chainId}`,
          {
            code: "wrong_chain",
            hint: `Sign with Chain ID: ${options.chainId}`,
          },
        );
      }
      const domains = new Set(options.domains().map((d) => d.toLowerCase()));
      const expected = [...domains].join(" or ");
      if (!domains.has(siwe.domain.toLowerCase())) {
        throw proofError(
          `The sign-in message is for ${siwe.domain}, not this gateway (${expected})`,
          `Sign for the domain ${expected}`,
        );
      }
      let uriHost: string | undefined;
      try {
        uriHost = new URL(siwe.uri).host.toLowerCase();
      } catch {
        uriHost = undefined;
      }
      if (uriHost !== siwe.domain.toLowerCase()) throw proofError("The sign-in message's URI is not on its domain");
      if (siwe.statement !== keyStatement(options.gateway)) {
        throw proofError(
          "The sign-in message's statement is not this gateway's key statement",
          "Use the statement from POST /v1/keys/nonce",
        );
      }
      const at = now();
      const dates = [siwe.issuedAt, siwe.expirationTime, siwe.notBefore].filter((d) => d !== undefined);
      if (dates.some((d) => Number.isNaN(d.getTime()))) throw proofError("The sign-in message has a malformed date");
      if (Math.abs(siwe.issuedAt.getTime() - at) > skew)
        throw proofError("The sign-in message's Issued At is too far from now");
      if (siwe.expirationTime && siwe.expirationTime.getTime() <= at)
        throw proofError("The sign-in message has expired");
      if (siwe.notBefore && siwe.notBefore.getTime() > at) throw proofError("The sign-in message is not valid yet");
      const nonceExpiry = checkNonce({ secret: await secret, nonce: siwe.nonce, at });
      const reused =
        nonceExpiry !== undefined &&
        (await store.query("SELECT 1 FROM key_nonces_used WHERE nonce = $1", [siwe.nonce])).length > 0;
      if (nonceExpiry === undefined || reused) {
        throw nonceError();
      }
      let parsed: ReturnType<typeof parseKeyScopeResources>;
      try {
        parsed = parseKeyScopeResources(siwe.resources ?? []);
      } catch (error) {
        if (!(error instanceof KeyScopeParseError)) throw error;
        throw new RequestError(`The key scope is invalid: ${error.message}`, {
          code: "key_scope_invalid",
          hint: "Scope resources are verity:gateway, verity:spend-limit, verity:models, verity:expires, verity:label, verity:max-per-call, verity:daily-limit, verity:rpm, verity:tpm, verity:concurrency",
        });
      }
      if (parsed.gateway !== options.gateway.toLowerCase())
        throw proofError("The sign-in message names another gateway");
      const { scope } = parsed;
      if (scope.expiresAt !== undefined && scope.expiresAt * 1000 <= at) {
        throw new RequestError("The key would already be expired", { code: "key_scope_invalid" });
      }
      const owner = siwe.address;
      const signed =
        (await verifyMessage({ address: owner, message: args.message, signature: args.signature }).catch(
          () => false,
        )) ||
        (options.publicClient
          ? await options.publicClient
              .verifyMessage({ address: owner, message: args.message, signature: args.signature })
              .catch(() => false)
          : false);
      if (!signed)
        throw proofError("The signature is not the owner's signature of this message", "Sign the exact message text");
      const key = `vk_${randomBytes(24).toString("base64url")}`;
      const id = `key_${randomBytes(8).toString("hex")}`;
      const apiKey = await store.transaction(async (tx) => {
        // The nonce is recorded as used by a primary-key insert: of two replicas minting with it, one wins.
        await tx.query("DELETE FROM key_nonces_used WHERE expires_at <= $1", [at]);
        const used = await tx.query(
          "INSERT INTO key_nonces_used (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING RETURNING nonce",
          [siwe.nonce as string, nonceExpiry],
        );
        if (used.length !== 1) throw nonceError();
        await tx.query(
          `INSERT INTO api_keys (key_hash, id, owner, label, spend_limit, models, expires_at, created_at, proof, limits)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [
            hashKey(key),
            id,
            owner.toLowerCase(),
            scope.label ?? null,
            scope.spendLimit?.toString() ?? null,
            scope.models ? JSON.stringify(scope.models) : null,
            scope.expiresAt ?? null,
            at,
            JSON.stringify({ message: args.message, signature: args.signature }),
            limitsJson(scope),
          ],
        );
        return toApiKey((await byId(id, tx)) as Row);
      });
      return { key, apiKey };
    },

    /** The key behind a bearer secret, or `invalid_api_key` / `api_key_revoked` / `api_key_expired` (401). */
    async authenticate(secret: string, args: { cached?: boolean } = {}): Promise<ApiKey> {
      const hash = hashKey(secret);
      const hit = args.cached ? authCache.get(hash) : undefined;
      const row =
        hit && now() - hit.at < authCacheMs
          ? hit.row
          : (await store.query<Row>("SELECT * FROM api_keys WHERE key_hash = $1", [hash]))[0];
      if (!row) {
        throw new AuthError("Unknown API key", {
          code: "invalid_api_key",
          hint: "Create a key with `verity keys create` (a signed sign-in) or pay per request with x402 (no key)",
        });
      }
      const apiKey = toApiKey(row);
      refuseUnusable(apiKey, now());
      if (args.cached && row && hit?.row !== row) {
        if (authCache.size >= AUTH_CACHE_MAX) authCache.delete(authCache.keys().next().value as string);
        authCache.set(hash, { row, at: now() });
      }
      return apiKey;
    },

    /** Refuses a model outside the key's signed scope (`api_key_model_not_allowed`, 403). */
    authorize(apiKey: ApiKey, request: { model: string }): void {
      if (apiKey.scope.models && !apiKey.scope.models.includes(request.model)) {
        throw new AuthError(`This API key may call only ${apiKey.scope.models.join(", ")}`, {
          code: "api_key_model_not_allowed",
          hint: "Use a key whose scope includes this model",
          details: { id: apiKey.id },
        });
      }
    },

    /** The keys a caller may see: all of the owner's for a full key, only itself for a scoped one. */
    async list(actor: ApiKey): Promise<ApiKey[]> {
      if (!isFullKeyScope(actor.scope)) return [toApiKey((await byId(actor.id)) as Row)];
      const rows = await store.query<Row>("SELECT * FROM api_keys WHERE owner = $1 ORDER BY created_at DESC", [
        actor.owner.toLowerCase(),
      ]);
      return rows.map(toApiKey);
    },

    /** Revokes key `id` of the actor's owner (a scoped key may revoke only itself). Idempotent. */
    async revoke(args: { actor: ApiKey; id: string }): Promise<ApiKey> {
      const row = await byId(args.id);
      if (!row || row.owner !== args.actor.owner.toLowerCase()) {
        throw new RequestError(`No key ${args.id} for this owner`, { code: "not_found" });
      }
      if (args.id !== args.actor.id && !isFullKeyScope(args.actor.scope)) {
        throw new AuthError("A scoped API key may revoke only itself", {
          code: "api_key_scope_forbidden",
          hint: "Use a full key (no spend limit or model list) of the same owner",
        });
      }
      await store.query(
        "UPDATE api_keys SET revoked_at = $1, revoked_reason = 'owner' WHERE id = $2 AND revoked_at IS NULL",
        [now(), args.id],
      );
      authCache.delete(row.key_hash);
      return toApiKey((await byId(args.id)) as Row);
    },

    /**
     * Ledger hooks, run inside the ledger's transaction: a hold for a key with a spend limit fails
     * (and rolls back) when the key's charges plus its open holds would pass the limit (a settled
     * charge is added to the key's spend by the ledger's settlement statement). The key's row is locked (`FOR UPDATE`) for the check, so holds
     * for one key through several replicas take turns and cannot pass the limit together.
     */
    ledgerHooks: {
      async onHold(hold, tx, locked) {
        if (!hold.keyId) return;
        // The ledger's hold statement locked and read the row already (after the balance row).
        const row =
          locked?.keyRow !== undefined ? (locked.keyRow as Row | null) : await byId(hold.keyId, tx, " FOR UPDATE");
        // The authoritative check: the paid path may have authenticated from its cache, so a key
        // revoked or expired since (on any replica) is refused here, in the transaction that spends.
        if (!row) {
          throw new AuthError("This API key no longer exists", {
            code: "api_key_revoked",
            hint: "Create a new key with `verity keys create`",
            details: { id: hold.keyId },
          });
        }
        const key = toApiKey(row);
        refuseUnusable(key, now());
        const { maxPerCall, dailyLimit } = key.scope;
        if (maxPerCall !== undefined && hold.amount > maxPerCall) {
          throw new PaymentError(
            `This request's maximum of ${hold.amount} is above the key's per-call limit of ${maxPerCall}`,
            {
              code: "mandate_exceeded",
              hint: "Lower max_tokens or the price cap, or use a key with a higher per-call limit",
              details: { id: row.id, limit: "per_call", max: maxPerCall.toString(), amount: hold.amount.toString() },
            },
          );
        }
        if (!row.spend_limit && dailyLimit === undefined) return;
        const [sum] = await tx.query<{ open: string | null }>(
          "SELECT SUM(amount) AS open FROM holds WHERE key_id = $1",
          [hold.keyId],
        );
        const open = BigInt(sum?.open ?? "0");
        if (dailyLimit !== undefined) {
          // Under the key row's lock (taken by the hold statement): holds for this key through any
          // replica take turns, so concurrent requests cannot pass the day's bound together.
          const [today] = await tx.query<{ spent: string }>(
            "SELECT spent FROM key_daily_spend WHERE key_id = $1 AND day = $2",
            [hold.keyId, Math.floor(now() / DAY_MS)],
          );
          const spentToday = BigInt(today?.spent ?? "0");
          if (spentToday + open > dailyLimit) {
            throw new PaymentError(
              `This request's maximum of ${hold.amount} would take the key past its daily limit of ${dailyLimit} (spent ${spentToday} today)`,
              {
                code: "mandate_exceeded",
                hint: "Wait for the next UTC day, lower max_tokens, or use a key with a higher daily limit",
                details: {
                  id: row.id,
                  limit: "per_day",
                  max: dailyLimit.toString(),
                  spent: spentToday.toString(),
                  held: open.toString(),
                },
              },
            );
          }
        }
        if (!row.spend_limit) return;
        const limit = BigInt(row.spend_limit);
        if (BigInt(row.spent) + open > limit) {
          throw new AuthError(
            `This request's maximum of ${hold.amount} would take the key past its spend limit of ${limit} (spent ${row.spent})`,
            {
              code: "api_key_spend_limit",
              hint: "Lower max_tokens, or create a key with a higher limit",
              details: { id: row.id, spendLimit: limit.toString(), spent: row.spent },
            },
          );
        }
      },
      /** Adds a settled charge to the key's spend of the day (same transaction as the settlement). */
      async onSettled(settled: { hold: Hold; charged: bigint }, tx: StoreTx) {
        if (!settled.hold.keyId || settled.charged <= 0n) return;
        await tx.query(
          `INSERT INTO key_daily_spend (key_id, day, spent) VALUES ($1, $2, $3)
           ON CONFLICT (key_id, day) DO UPDATE SET spent = key_daily_spend.spent + excluded.spent`,
          [settled.hold.keyId, Math.floor(now() / DAY_MS), settled.charged],
        );
      },
    } satisfies PrepaidLedgerHooks,
  };
}

export type ApiKeys = ReturnType<typeof createApiKeys>;

/** The public JSON of a key (no secret). */
export function apiKeyJson(k: ApiKey) {
  return {
    id: k.id,
    owner: k.owner,
    label: k.scope.label ?? null,
    spendLimit: k.scope.spendLimit?.toString() ?? null,
    maxPerCall: k.scope.maxPerCall?.toString() ?? null,
    dailyLimit: k.scope.dailyLimit?.toString() ?? null,
    rpm: k.scope.rpm ?? null,
    tpm: k.scope.tpm ?? null,
    concurrency: k.scope.concurrency ?? null,
    spent: k.spent.toString(),
    models: k.scope.models ?? null,
    expiresAt: k.scope.expiresAt ?? null,
    createdAt: k.createdAt,
    revoked: k.revokedAt === undefined ? null : { at: k.revokedAt, reason: k.revokedReason },
  };
}
