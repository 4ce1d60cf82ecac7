import { keyStatement, RequestError } from "@verity/core";
import { errorResponse } from "@verity/provider";
import type { Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { type ApiKeys, apiKeyJson } from "./api-keys.ts";
import type { PrepaidLedger } from "./prepaid-ledger.ts";

/** Largest body the key routes read: a sign-in message and its signature fit in a few KiB. */
export const KEY_BODY_LIMIT = 16 * 1024;

const mintSchema = z.object({
  message: z
    .string()
    .min(1)
    .max(8 * 1024),
  signature: z
    .string()
    .regex(/^0x[0-9a-fA-F]+$/)
    .max(4 * 1024),
});

const bearer = (c: Context) => {
  const auth = c.req.header("authorization") ?? "";
  return auth.startsWith("Bearer ") ? auth.slice(7) : "";
};

/**
 * The API key routes: `POST /v1/keys/nonce` (a single-use sign-in nonce), `POST /v1/keys` (mint a
 * key from a signed EIP-4361 message), `GET /v1/keys` and `DELETE /v1/keys/:id` (the owner's keys,
 * with a bearer key of that owner), and `GET /v1/balance`.
 */
export function mountKeyRoutes(
  app: Hono,
  deps: {
    keys: ApiKeys;
    ledger: PrepaidLedger;
    address: `0x${string}`;
    chainId: number;
    /** The host names sign-in messages must name (the gateway's public URL's). */
    domains: () => string[];
    token: { address: `0x${string}`; symbol: string; decimals: number };
  },
): void {
  const limit = bodyLimit({
    maxSize: KEY_BODY_LIMIT,
    onError: (c) =>
      errorResponse(
        c,
        new RequestError(`Key requests are limited to ${KEY_BODY_LIMIT} bytes`, { code: "payload_too_large" }),
      ),
  });
  app.use("/v1/keys", limit);
  app.use("/v1/keys/*", limit);
  app.post("/v1/keys/nonce", async (c) => {
    try {
      const nonce = await deps.keys.issueNonce();
      return c.json(
        {
          ...nonce,
          chainId: deps.chainId,
          gateway: deps.address,
          domains: deps.domains(),
          statement: keyStatement(deps.address),
        },
        201,
      );
    } catch (error) {
      return errorResponse(c, error);
    }
  });
  app.post("/v1/keys", async (c) => {
    try {
      const raw = await c.req.json().catch(() => {
        throw new RequestError("The request body is not valid JSON", { code: "invalid_json" });
      });
      const parsed = mintSchema.safeParse(raw);
      if (!parsed.success) {
        throw new RequestError(
          "Send {message, signature}: an EIP-4361 sign-in message over a nonce from POST /v1/keys/nonce",
          {
            code: "invalid_request",
            hint: "`verity keys create --gateway <url> --key-file <owner key>` does it for you",
          },
        );
      }
      const { key, apiKey } = await deps.keys.mint({
        message: parsed.data.message,
        signature: parsed.data.signature as `0x${string}`,
      });
      return c.json(
        { key, ...apiKeyJson(apiKey), depositTo: deps.address, token: deps.token, chainId: deps.chainId },
        201,
      );
    } catch (error) {
      return errorResponse(c, error);
    }
  });
  app.get("/v1/keys", async (c) => {
    try {
      const actor = await deps.keys.authenticate(bearer(c));
      return c.json({ owner: actor.owner, data: (await deps.keys.list(actor)).map(apiKeyJson) });
    } catch (error) {
      return errorResponse(c, error);
    }
  });
  app.delete("/v1/keys/:id", async (c) => {
    try {
      const actor = await deps.keys.authenticate(bearer(c));
      return c.json(apiKeyJson(await deps.keys.revoke({ actor, id: c.req.param("id") })));
    } catch (error) {
      return errorResponse(c, error);
    }
  });
  app.get("/v1/balance", async (c) => {
    try {
      const key = await deps.keys.authenticate(bearer(c));
      return c.json({
        owner: key.owner,
        balance: (await deps.ledger.balanceOf(key.owner)).toString(),
        token: deps.token,
        depositTo: deps.address,
        key: apiKeyJson(key),
      });
    } catch (error) {
      return errorResponse(c, error);
    }
  });
}
