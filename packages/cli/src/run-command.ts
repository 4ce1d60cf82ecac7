import { BaseError } from "@verity/core";

/**
 * Runs a command body and turns any failure into one clear line (plus what to do next) and a
 * non-zero exit; with `--json`, a single `{"event":"error",…}` line on stdout instead.
 */
export async function runCommand(json: boolean, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    process.exitCode = 1;
    if (json) {
      const payload =
        error instanceof BaseError
          ? { event: "error", ...error.toJSON().error }
          : { event: "error", code: "internal_error", message: String((error as Error)?.message ?? error) };
      process.stdout.write(`${JSON.stringify(payload)}\n`);
      return;
    }
    if (error instanceof BaseError) {
      process.stderr.write(`✖ ${error.message} [${error.code}]\n`);
    } else {
      process.stderr.write(`✖ ${(error as Error)?.message ?? String(error)}\n`);
      if (process.env.VERITY_DEBUG) console.error(error);
    }
  }
}
