/**
 * `npm run drill` / `verity drill`: runs the devnet as separate processes, injects faults (SIGKILL of
 * a provider mid-stream, of a gateway replica mid-request, of the validator mid-audit; a hung
 * upstream; restarts from state directories) and prints a table of the faults survived. Exit code 0
 * only when every fault passed; `--json` prints one JSON line per fault instead.
 */
import { reportError } from "../run-command.ts";
import { formatDrillTable, runDrill } from "./drill-runner.ts";

export const DRILL_HELP = `Usage: verity drill [--quick] [--json] [--dir <dir>]

Run the devnet as separate processes (chain, 3 providers — one behind an upstream engine —, 2 gateway
replicas, a validator), inject faults and check after each: a complete answer or a clear error, charged
at most once, nothing owed lost, balances reconciled with the chain.

Options:
  --quick       only the provider and gateway faults and the final reconciliation
  --json        one JSON line per fault: {"fault","checked","ok","detail","ms","mode"}
  --dir <dir>   where the processes keep their state (default: a new temporary folder)
  -h, --help    this help`;

/** Runs the drill, prints its report, and returns the exit code (0 only when every fault passed). */
export async function drillMain(options: { quick?: boolean; json?: boolean; dir?: string }): Promise<number> {
  const json = options.json === true;
  let mode = "";
  let report: Awaited<ReturnType<typeof runDrill>>;
  try {
    report = await runDrill({
      ...(options.quick ? { quick: true } : {}),
      ...(options.dir ? { dir: options.dir } : {}),
      log: (line) => {
        if (!json) process.stderr.write(`· ${line}\n`);
      },
      onCluster: (m) => {
        mode = m;
      },
      onResult: (r) => {
        if (json) process.stdout.write(`${JSON.stringify({ ...r, mode })}\n`);
      },
    });
  } catch (error) {
    reportError(json, error); // the cluster did not come up: one clear line, as every command does
    return 1;
  }
  if (!json) process.stdout.write(`${formatDrillTable(report)}\n`);
  return report.ok ? 0 : 1;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(`${DRILL_HELP}\n`);
  } else {
    const dirAt = args.indexOf("--dir");
    process.exitCode = await drillMain({
      quick: args.includes("--quick"),
      json: args.includes("--json"),
      ...(dirAt >= 0 && args[dirAt + 1] ? { dir: args[dirAt + 1] as string } : {}),
    });
    process.exit();
  }
}
