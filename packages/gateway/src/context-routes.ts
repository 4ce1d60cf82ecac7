import { ContextError, RequestError } from "@verity/core";
import { errorResponse } from "@verity/provider";
import { storedContextJsonSchema } from "@verity/sdk";
import type { Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContextStore, StoredContextVersion } from "./context-store.ts";

const OWNER = /^0x[0-9a-fA-F]{40}$/;

function ownerParam(c: Context): string {
  const owner = c.req.param("owner") ?? "";
  if (!OWNER.test(owner)) throw new RequestError("The path names no owner address", { code: "invalid_request" });
  return owner.toLowerCase();
}

function toJson(stored: StoredContextVersion) {
  return { record: stored.record, blob: Buffer.from(stored.blob).toString("base64") };
}

/**
 * The context blob store's HTTP face: `PUT /v1/context/:owner` stores the next signed version with
 * its encrypted blob; `GET /v1/context/:owner` serves the latest, `GET /v1/context/:owner/:version`
 * one version. Anyone may read (blobs are encrypted, records are signed); only the owner's
 * signature writes. The gateway never sees a key or a plaintext.
 */
export function mountContextRoutes(app: Hono, deps: { contexts: ContextStore }): void {
  // base64 grows the blob by 4/3; the record and JSON add well under 4 KiB
  const maxBody = Math.ceil((deps.contexts.maxBytes * 4) / 3) + 4096;
  const limit = bodyLimit({
    maxSize: maxBody,
    onError: (c) =>
      errorResponse(
        c,
        new ContextError("The context body is too large", {
          code: "context_too_large",
          details: { maxBytes: deps.contexts.maxBytes },
        }),
      ),
  });
  app.put("/v1/context/:owner", limit, async (c) => {
    try {
      const owner = ownerParam(c);
      let json: unknown;
      try {
        json = await c.req.json();
      } catch {
        throw new RequestError("The request body is not valid JSON", { code: "invalid_json" });
      }
      const parsed = storedContextJsonSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new RequestError(`Invalid context version: ${issue?.path.join(".") || "body"} ${issue?.message ?? ""}`, {
          code: "invalid_request",
          hint: "Send { record: { owner, version, content, previous, signature }, blob: <base64> }",
        });
      }
      if (parsed.data.record.owner.toLowerCase() !== owner) {
        throw new ContextError("The version's owner is not the owner in the path", {
          code: "context_signature_invalid",
          details: { path: owner, owner: parsed.data.record.owner },
        });
      }
      const stored = await deps.contexts.put({
        record: parsed.data.record,
        blob: new Uint8Array(Buffer.from(parsed.data.blob, "base64")),
      });
      return c.json({ owner, ...stored }, 201);
    } catch (error) {
      return errorResponse(c, error);
    }
  });
  app.get("/v1/context/:owner", async (c) => {
    try {
      return c.json(toJson(await deps.contexts.get({ owner: ownerParam(c) })));
    } catch (error) {
      return errorResponse(c, error);
    }
  });
  app.get("/v1/context/:owner/:version", async (c) => {
    try {
      const version = Number(c.req.param("version"));
      if (!Number.isSafeInteger(version) || version < 1) {
        throw new RequestError("The version must be a positive integer", { code: "invalid_request" });
      }
      return c.json(toJson(await deps.contexts.get({ owner: ownerParam(c), version })));
    } catch (error) {
      return errorResponse(c, error);
    }
  });
}
