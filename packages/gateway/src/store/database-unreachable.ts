import { StorageError } from "@verity/core";

/** Connection-level failures: refused, unknown host, timed out, bad credentials, no such database. */
const UNREACHABLE_ERRNO = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ECONNRESET",
]);
const UNREACHABLE_STATE = new Set(["28000", "28P01", "3D000", "57P03"]);

/** The URL without its password, safe for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparsable URL)";
  }
}

/** Whether `error` says the server could not be reached or refused us (not a failed statement). */
export function isUnreachable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && (UNREACHABLE_ERRNO.has(code) || UNREACHABLE_STATE.has(code))) return true;
  const message = error instanceof Error ? error.message : "";
  return /timeout exceeded when trying to connect|Connection terminated/i.test(message);
}

export function unreachableError(url: string, cause: unknown): StorageError {
  const reason = cause instanceof Error ? cause.message || String((cause as { code?: unknown }).code) : String(cause);
  return new StorageError(`The database at ${redactUrl(url)} (--database) did not answer: ${reason}`, {
    code: "database_unreachable",
    hint: "Check the --database URL (host, port, user, password, database name) and that the server is running",
    details: { flag: "--database", database: redactUrl(url) },
    cause,
  });
}
