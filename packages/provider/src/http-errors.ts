import { BaseError, type ReasonCode, reasonStatus } from "@verity/core";
import type { Context } from "hono";

/** JSON error body with the reason code's status (and Retry-After for `rate_limited`). */
export function errorResponse(c: Context, error: unknown, extra: Record<string, unknown> = {}): Response {
  const known = error instanceof BaseError ? error : undefined;
  const code: ReasonCode = known?.code ?? "internal_error";
  const body = known
    ? { ...known.toJSON(), ...extra }
    : {
        error: { code, message: "Internal error", hint: "Retry; if it persists, report it to the provider" },
        ...extra,
      };
  if (code === "rate_limited") {
    c.header("Retry-After", String((known?.details.retryAfterSeconds as number | undefined) ?? 1));
  }
  return c.json(body, reasonStatus(code) as 400);
}
