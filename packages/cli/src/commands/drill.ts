import type { Command } from "commander";
import { drillMain } from "../drill/drill.ts";

export function registerDrill(program: Command): void {
  program
    .command("drill")
    .description("Fault drill: kill and hang devnet processes, check nothing owed is lost and balances reconcile")
    .option("--quick", "only the provider and gateway faults and the final reconciliation")
    .option("--json", "one JSON line per fault")
    .option("--dir <dir>", "where the processes keep their state (default: a new temporary folder)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity drill\n  $ verity drill --quick --json\n\nExit code 0 only when every fault passed.",
    )
    .action(async (flags: { quick?: boolean; json?: boolean; dir?: string }) => {
      process.exitCode = await drillMain(flags);
      process.exit();
    });
}
