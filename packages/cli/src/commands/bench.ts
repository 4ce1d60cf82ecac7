import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { ConfigError } from "@verity/core";
import type { Command } from "commander";
import { runCommand } from "../run-command.ts";

/** The repository's bench/ folder (the CLI runs from a checkout). */
const BENCH_DIR = fileURLToPath(new URL("../../../../bench/", import.meta.url));

/** Benchmarks in bench/, as `bench/run.ts` finds them. */
export function benchmarkNames(): string[] {
  if (!existsSync(BENCH_DIR)) return [];
  return readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith(".ts") && f !== "run.ts" && !f.endsWith(".test.ts") && !f.startsWith("_"))
    .map((f) => f.replace(/\.ts$/, ""))
    .sort();
}

export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("Run the repository's benchmarks and stream one JSON line per figure")
    .option(
      "--only <names>",
      "run only these benchmarks (comma-separated or repeated)",
      (v: string, acc: string[]) => [
        ...acc,
        ...v
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
      ],
      [],
    )
    .option("--json", "pass the JSON lines through unchanged (default: a readable line per figure)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity bench\n  $ verity bench --only route-decision,voucher-checks --json > figures.jsonl",
    )
    .action(async (flags: { only: string[]; json?: boolean }) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const known = benchmarkNames();
        if (known.length === 0) {
          throw new ConfigError(`No benchmarks at ${BENCH_DIR}`, {
            code: "invalid_parameter",
            hint: "Run `verity bench` from a checkout of the Verity repository",
          });
        }
        const unknown = flags.only.filter((n) => !known.includes(n));
        if (unknown.length > 0) {
          throw new ConfigError(`No benchmark named ${unknown.join(", ")}`, {
            code: "invalid_parameter",
            hint: `Pick from: ${known.join(", ")}`,
          });
        }
        const child = spawn(process.execPath, [`${BENCH_DIR}run.ts`, ...flags.only], {
          stdio: ["ignore", "pipe", "inherit"],
        });
        const lines = createInterface({ input: child.stdout });
        lines.on("line", (line) => process.stdout.write(`${json ? line : readable(line)}\n`));
        const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
        if (code !== 0) {
          throw new ConfigError(`Benchmarks failed (exit ${code})`, {
            code: "internal_error",
            hint: "See the output above for the benchmark that failed",
          });
        }
      });
    });
}

/** `{"bench","metric","value","unit",…}` → `bench  metric  value unit`; other lines pass through. */
function readable(line: string): string {
  try {
    const f = JSON.parse(line) as { bench?: unknown; metric?: unknown; value?: unknown; unit?: unknown };
    if (f.bench === undefined || f.metric === undefined) return line;
    return `${String(f.bench).padEnd(20)} ${String(f.metric).padEnd(36)} ${String(f.value)} ${String(f.unit ?? "")}`.trimEnd();
  } catch {
    return line;
  }
}
