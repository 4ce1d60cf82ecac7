import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "@verity/core";
import { runCalibration, summaryMarkdown } from "@verity/validator/calibrate";
import type { Command } from "commander";
import { parseInteger } from "../parse-flags.ts";
import { createProgress } from "../progress.ts";
import { runCommand } from "../run-command.ts";

type CalibrateFlags = {
  quick?: boolean;
  out?: string;
  workers?: string;
  honest?: string;
  substitutes?: string;
  dump?: string;
  from?: string;
  json?: boolean;
};

/** The committed calibration the validator loads by default (packages/validator/calibration.json). */
const DEFAULT_OUT = fileURLToPath(new URL("../../../validator/calibration.json", import.meta.url));

export function registerCalibrate(program: Command): void {
  program
    .command("calibrate")
    .description(
      "Re-run the audit calibration on the test models: honest and substitute transcripts, thresholds, detection and false-positive rates; writes calibration.json",
    )
    .option("--quick", "small corpus (under a minute; CI)")
    .option(
      "--out <file>",
      "where to write calibration.json (and calibration.md beside it); a full run defaults to the committed packages/validator/calibration.json",
    )
    .option("--workers <n>", "worker processes (one llama.cpp runtime each; default min(2, cores))")
    .option("--honest <n>", "honest transcripts (overrides the mode's corpus)")
    .option("--substitutes <n>", "transcripts per substitute kind (with --honest)")
    .option("--dump <file>", "also write every transcript's summaries (JSON lines)")
    .option("--from <file>", "re-use an earlier --dump instead of generating")
    .option("--json", "one JSON line per progress step and a final result line on stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity calibrate                      # full run, updates packages/validator/calibration.json\n  $ verity calibrate --quick --out /tmp/calibration.json\n  $ verity calibrate --honest 8 --substitutes 2 --out /tmp/c.json --json",
    )
    .action(async (flags: CalibrateFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const progress = createProgress({ quiet: json });
        const small = flags.quick === true || flags.honest !== undefined;
        if (small && flags.out === undefined) {
          throw new ConfigError("A quick or sized calibration needs --out (it must not replace the committed file)", {
            code: "invalid_parameter",
            hint: "Add --out /tmp/calibration.json",
          });
        }
        const out = resolve(flags.out ?? DEFAULT_OUT);
        const honest = flags.honest === undefined ? undefined : parseInteger("--honest", flags.honest, 2);
        const perKind = flags.substitutes === undefined ? 1 : parseInteger("--substitutes", flags.substitutes, 1);
        const size =
          honest === undefined
            ? undefined
            : { honest, perSubstitute: { sub: perKind, q4: perKind, q8: perKind, random: perKind, shuffled: perKind } };
        let last = 0;
        const { calibration } = await progress.step(
          `calibrate (${size ? `${honest} honest + ${perKind} per substitute` : flags.quick ? "quick" : "full"})`,
          () =>
            runCalibration({
              quick: flags.quick === true,
              ...(size ? { size } : {}),
              ...(flags.workers === undefined ? {} : { workers: parseInteger("--workers", flags.workers, 1) }),
              ...(flags.dump === undefined ? {} : { dump: resolve(flags.dump) }),
              ...(flags.from === undefined ? {} : { from: resolve(flags.from) }),
              onProgress: (done, total) => {
                if (json) {
                  process.stdout.write(`${JSON.stringify({ event: "progress", done, total })}\n`);
                } else if (done - last >= Math.max(1, Math.floor(total / 20)) || done === total) {
                  progress.info(`  … ${done}/${total} transcripts`);
                }
                last = done;
              },
            }),
        );
        mkdirSync(dirname(out), { recursive: true });
        writeFileSync(out, `${JSON.stringify(calibration, null, 2)}\n`);
        const markdown = out.endsWith(".json") ? out.replace(/\.json$/, ".md") : `${out}.md`;
        writeFileSync(markdown, summaryMarkdown(calibration));
        if (json) {
          process.stdout.write(
            `${JSON.stringify({ event: "calibrated", out, markdown, mode: calibration.mode, rates: calibration.rates, timing: calibration.timing })}\n`,
          );
        } else {
          progress.info(`wrote ${out} and ${markdown}`);
          const r300 = calibration.rates["300"];
          if (r300) {
            for (const [kind, r] of Object.entries(r300).filter(([k]) => !k.includes("/"))) {
              progress.info(`  ${kind.padEnd(9)} fail rate at 300 tokens ${(r.rate * 100).toFixed(2)} % (n = ${r.n})`);
            }
          }
        }
      });
    });
}
