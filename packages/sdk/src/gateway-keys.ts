import {
  AuthError,
  type BaseError,
  type KeyScope,
  keyScopeResources,
  keyStatement,
  type ReasonCode,
  RequestError,
} from "@verity/core";
import type { Account } from "viem";
import { createSiweMessage } from "viem/siwe";
import { z } from "zod";

/** A key as the gateway lists it (never the secret). */
export type GatewayKeyInfo = {
  id: string;
  owner: `0x${string}`;
  label: string | null;
  spendLimit: string | null;
  spent: string;
  models: string[] | null;
  expiresAt: number | null;
  createdAt: number;
  revoked: { at: number; reason: string } | null;
};

export type CreatedGatewayKey = GatewayKeyInfo & {
  /** The bearer secret, shown once. */
  key: string;
  depositTo: `0x${string}`;
  chainId: number;
  token: { address: `0x${string}`; symbol: string; decimals: number };
};

const nonceSchema = z.object({
  nonce: z.string().min(8),
  chainId: z.number().int().positive(),
  gateway: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
});

async function gatewayError(res: Response, what: string): Promise<BaseError> {
  const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string; hint?: string } };
  const code = (body.error?.code ?? "internal_error") as ReasonCode;
  const message = body.error?.message ?? `${what} answered ${res.status}`;
  return res.status === 401 || res.status === 403
    ? new AuthError(message, { code })
    : new RequestError(message, { code });
}

/**
 * Creates a gateway API key for `account`'s prepaid balance: asks the gateway for a sign-in nonce,
 * signs an EIP-4361 message for this gateway (its host, chain id and address) carrying `scope`, and
 * sends it. `chainId`, when given, must equal the gateway's (a gateway on another chain is refused
 * before anything is signed).
 */
export async function createGatewayKey(options: {
  gatewayUrl: string;
  /** The owner: a viem account that can sign messages (a local private-key account or a wallet's). */
  account: Account & { signMessage: NonNullable<Account["signMessage"]> };
  scope?: KeyScope;
  chainId?: number;
  fetch?: typeof fetch;
}): Promise<CreatedGatewayKey> {
  const doFetch = options.fetch ?? fetch;
  const base = options.gatewayUrl.replace(/\/+$/, "").replace(/\/v1$/, "");
  const nonceRes = await doFetch(`${base}/v1/keys/nonce`, { method: "POST" });
  if (nonceRes.status !== 201) throw await gatewayError(nonceRes, "POST /v1/keys/nonce");
  const issued = nonceSchema.parse(await nonceRes.json());
  if (options.chainId !== undefined && options.chainId !== issued.chainId) {
    throw new RequestError(`The gateway is on chain ${issued.chainId}, not ${options.chainId}`, {
      code: "wrong_chain",
    });
  }
  const url = new URL(base);
  const message = createSiweMessage({
    address: options.account.address,
    chainId: issued.chainId,
    domain: url.host,
    uri: url.origin,
    nonce: issued.nonce,
    version: "1",
    issuedAt: new Date(),
    statement: keyStatement(issued.gateway as `0x${string}`),
    resources: keyScopeResources({
      gateway: issued.gateway as `0x${string}`,
      ...(options.scope ? { scope: options.scope } : {}),
    }),
  });
  const signature = await options.account.signMessage({ message });
  const res = await doFetch(`${base}/v1/keys`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message, signature }),
  });
  if (res.status !== 201) throw await gatewayError(res, "POST /v1/keys");
  return (await res.json()) as CreatedGatewayKey;
}

/** The keys `apiKey` may see: all of its owner's for a full key, only itself for a scoped one. */
export async function listGatewayKeys(options: {
  gatewayUrl: string;
  apiKey: string;
  fetch?: typeof fetch;
}): Promise<GatewayKeyInfo[]> {
  const base = options.gatewayUrl.replace(/\/+$/, "").replace(/\/v1$/, "");
  const res = await (options.fetch ?? fetch)(`${base}/v1/keys`, {
    headers: { authorization: `Bearer ${options.apiKey}` },
  });
  if (!res.ok) throw await gatewayError(res, "GET /v1/keys");
  return ((await res.json()) as { data: GatewayKeyInfo[] }).data;
}

/** Revokes key `id` with a key of the same owner (a scoped key may revoke only itself). */
export async function revokeGatewayKey(options: {
  gatewayUrl: string;
  apiKey: string;
  id: string;
  fetch?: typeof fetch;
}): Promise<GatewayKeyInfo> {
  const base = options.gatewayUrl.replace(/\/+$/, "").replace(/\/v1$/, "");
  const res = await (options.fetch ?? fetch)(`${base}/v1/keys/${encodeURIComponent(options.id)}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${options.apiKey}` },
  });
  if (!res.ok) throw await gatewayError(res, "DELETE /v1/keys");
  return (await res.json()) as GatewayKeyInfo;
}
