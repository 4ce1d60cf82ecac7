import { BaseError, ConfigError } from "@verity/core";

/**
 * Runs a command body and turns any failure into one clear line (plus what to do next) and a
 * non-zero exit; with `--json`, a single `{"event":"error",…}` line on stdout instead.
 */
export async function runCommand(json: boolean, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    reportError(json, error);
  }
}

/** Prints `✖ message. hint [code]` on stderr (or the JSON error line on stdout) and sets a failing exit code. */
export function reportError(json: boolean, thrown: unknown): void {
  process.exitCode = 1;
  const error = explain(thrown);
  if (json) {
    const payload =
      error instanceof BaseError
        ? { event: "error", ...error.toJSON().error }
        : { event: "error", code: "internal_error", message: String((error as Error)?.message ?? error) };
    process.stdout.write(`${JSON.stringify(payload)}\n`);
  } else if (error instanceof BaseError) {
    process.stderr.write(`✖ ${error.message} [${error.code}]\n`);
  } else {
    process.stderr.write(`✖ ${(error as Error)?.message ?? String(error)}\n`);
  }
  if (process.env.VERITY_DEBUG) console.error(thrown);
}

/** Low-level failures every server command can hit, reworded into what to do about them. */
function explain(error: unknown): unknown {
  const port = portInUse(error);
  if (port !== undefined) {
    return new ConfigError(`Port ${port} is in use — pass --port or stop the other process`, {
      code: "port_in_use",
      details: { port },
      cause: error,
    });
  }
  return error;
}

function portInUse(error: unknown): number | string | undefined {
  // Our own errors pass through as they are, except a port_in_use whose hint names no flag to use.
  if (error instanceof BaseError) {
    if (error.code !== "port_in_use" || error.hint?.includes("--")) return undefined;
    return (error.details.port as number | undefined) ?? "?";
  }
  const e = error as NodeJS.ErrnoException & { port?: number };
  return e?.code === "EADDRINUSE" ? (e.port ?? "?") : undefined;
}
