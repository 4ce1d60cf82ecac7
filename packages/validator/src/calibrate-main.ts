/**
 * Calibration run: `node packages/validator/src/calibrate-main.ts [--quick] [--workers 2] [--out file]`.
 * Full mode writes packages/validator/calibration.json and calibration.md; `--quick` (CI, < 60 s)
 * writes only where `--out` says (nothing by default) and prints the same summary.
 */
import { spawn } from "node:child_process";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  type CorpusSize,
  chooseThresholds,
  describeHonest,
  FULL_SIZE,
  type Job,
  type JobResult,
  makeJobs,
  measureRates,
  pooledRates,
  QUICK_SIZE,
  REFERENCE_MODEL,
  RULE_ALPHA,
  runJobs,
  splitHonest,
} from "./calibrate.ts";
import { honestMargins, seededDetection } from "./calibrate-seeded.ts";
import { CALIBRATION_PATH, type CalibrationFile, loadCalibration } from "./thresholds.ts";

const SELF = fileURLToPath(import.meta.url);

/** Runs the jobs in `workers` child processes (one llama.cpp runtime each). */
async function runSharded(
  jobs: readonly Job[],
  workers: number,
  onProgress: (done: number) => void,
  onResult?: (line: string) => void,
): Promise<JobResult[]> {
  const results: JobResult[] = [];
  const shards = Array.from({ length: workers }, (_, w) => jobs.filter((_, i) => i % workers === w));
  await Promise.all(
    shards.map(
      (shard) =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(process.execPath, [SELF, "--worker"], { stdio: ["pipe", "pipe", "inherit"] });
          let buffer = "";
          child.stdout.setEncoding("utf8");
          child.stdout.on("data", (chunk: string) => {
            buffer += chunk;
            let nl = buffer.indexOf("\n");
            while (nl >= 0) {
              const line = buffer.slice(0, nl);
              buffer = buffer.slice(nl + 1);
              if (line.startsWith("{")) {
                results.push(JSON.parse(line) as JobResult);
                onResult?.(line);
                onProgress(results.length);
              }
              nl = buffer.indexOf("\n");
            }
          });
          child.on("error", reject);
          child.on("exit", (code) =>
            code === 0 ? resolve() : reject(new Error(`calibration worker exited with ${code}`)),
          );
          child.stdin.end(JSON.stringify(shard));
        }),
    ),
  );
  return results.sort((a, b) => a.id - b.id);
}

async function worker(): Promise<void> {
  let input = "";
  process.stdin.setEncoding("utf8");
  for await (const chunk of process.stdin) input += chunk;
  const jobs = JSON.parse(input) as Job[];
  await runJobs(jobs, (r) => process.stdout.write(`${JSON.stringify(r)}\n`));
}

export async function runCalibration(options: {
  quick: boolean;
  workers?: number;
  onProgress?: (done: number, total: number) => void;
  /** Also write every transcript's summaries here (JSON lines), for analysis. */
  dump?: string;
  /** Re-use the transcripts of an earlier `dump` instead of generating (thresholds and rates only). */
  from?: string;
  /** Corpus size instead of the mode's (e.g. a tiny smoke run). */
  size?: CorpusSize;
}): Promise<{ calibration: CalibrationFile; results: JobResult[] }> {
  const started = performance.now();
  // Run order interleaves the kinds, so a run stopped early (its `dump` is written as it goes) is a fair sample.
  const jobs = makeJobs(options.size ?? (options.quick ? QUICK_SIZE : FULL_SIZE)).sort(
    (a, b) => runOrder(a.id) - runOrder(b.id),
  );
  const workers = Math.max(1, options.workers ?? Math.min(2, availableParallelism()));
  const results = options.from
    ? readFileSync(options.from, "utf8")
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as JobResult)
        .sort((a, b) => a.id - b.id)
    : await (async () => {
        if (options.dump) writeFileSync(options.dump, "");
        const dump = options.dump;
        return runSharded(
          jobs,
          workers,
          (done) => options.onProgress?.(done, jobs.length),
          dump ? (line) => appendFileSync(dump, `${line}\n`) : undefined,
        );
      })();
  if (options.dump && !options.from) writeFileSync(options.dump, results.map((r) => JSON.stringify(r)).join("\n"));
  const { fit, holdout } = splitHonest(results);
  const thresholds = chooseThresholds(fit, 512);
  const measured = results.filter((r) => r.kind !== "honest" || holdout.includes(r));
  const rates = { ...measureRates(measured, thresholds), ...pooledRates(measured, thresholds) };
  // Re-using a dump: keep the wall time of the run that generated it (when it wrote the committed file).
  const previousWall = options.from ? previousWallSeconds() : undefined;
  const wallMs = previousWall === undefined ? performance.now() - started : previousWall * 1000;
  const generateMs = results.reduce((a, r) => a + r.generateMs, 0);
  const rescoreMs = results.reduce((a, r) => a + r.rescoreMs, 0);
  const suspectMs = results.reduce((a, r) => a + (r.suspectRescoreMs ?? 0), 0);
  const kinds: Record<string, number> = {};
  for (const r of results) kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
  const calibration: CalibrationFile = {
    version: 1,
    referenceModel: REFERENCE_MODEL,
    createdAt: new Date().toISOString(),
    mode: options.quick || options.size ? "quick" : "full",
    thresholds,
    rates,
    corpus: {
      transcripts: kinds,
      honestFit: fit.length,
      honestHoldout: holdout.length,
      settings:
        "temperature {0, 0.7, 1} × top-p {1, 0.9}; max tokens 1000 (20 %), 300 (60 %), 100, 32; chat prompts of 4–27 words; every transcript seed-synced (its own seed key)",
      honestConfigs: "llama.cpp batch 512/64/16 with 1 thread, batch 512 with 2 threads (2 %, 32 tokens)",
      ruleAlpha: RULE_ALPHA,
      honest: describeHonest(results),
      seededHonestMargins: honestMargins(results),
      seededDetection: seededDetection(measured, thresholds),
    },
    timing: {
      wallSeconds: Math.round(wallMs / 100) / 10,
      workers,
      generateCoreSeconds: Math.round(generateMs / 100) / 10,
      rescoreCoreSeconds: Math.round(rescoreMs / 100) / 10,
      suspectRescoreCoreSeconds: Math.round(suspectMs / 100) / 10,
    },
    notes: [
      "Thresholds are chosen on honest transcripts with ids divisible by 4; false positives are measured on the other three quarters (held out).",
      "Detection = share of substitute transcripts failing the verdict when judged on their first N tokens.",
      "ci95 = Clopper–Pearson 95 % interval.",
      "Budget keys N+suspect add the likelihood-ratio test against verity-tiny-q4 (one more prefill on the 4-bit model).",
      "Keys pooled-N pool one kind's transcripts in id order until they hold N tokens (evidence accumulated per provider).",
      "Kind/full-length = only transcripts with at least N tokens; most honest outputs end early (mean ~90 tokens).",
      "Keys N:seeded-only = the seed-synced DiFR rule alone (seeded_token_mismatch); N:unseeded = every rule but it (what an audit of an unseeded request can do).",
      "DiFR margin = max_j (l_j + T·g_j) − (l_e + T·g_e) over the reference's allowed candidates, in logits; the validator rescores with one batched prefill (batch 512), the provider decodes one token at a time.",
      "upper95 = one-sided 95 % Clopper–Pearson upper bound; seededDetection.auditsFor95 = audits of one provider until P(caught) ≥ 0.95 at the per-audit rate.",
    ],
  };
  return { calibration, results };
}

type HonestMargins = Record<
  string,
  {
    transcripts: number;
    tokens: number;
    positiveMargins: number;
    medianPositive: number;
    p99Positive: number;
    max: number;
  }
>;
type Detection = Record<
  string,
  {
    transcripts: number;
    meanTokens: number;
    flipsPerToken: number;
    caughtWithin300Tokens: number;
    caughtWithin1000Tokens: number;
    byBudget: Record<string, { perAudit: number; auditsFor95: number | null }>;
  }
>;

function seededMarkdown(c: CalibrationFile): string[] {
  const honest = c.corpus.seededHonestMargins as HonestMargins | undefined;
  const detection = c.corpus.seededDetection as Detection | undefined;
  if (!honest || !detection) return [];
  const lines = [
    "",
    `## Seed-synced audits (DiFR; tolerance ${c.thresholds.seeded.marginTolerance} logits, max flips ${c.thresholds.seeded.maxFlips})`,
    "",
    "Honest margins per provider configuration (validator: batch 512, 1 thread):",
    "",
    "| config | transcripts | tokens | margins > 0 | median of those | p99 | max |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const [config, h] of Object.entries(honest)) {
    lines.push(
      `| ${config} | ${h.transcripts} | ${h.tokens} | ${h.positiveMargins} | ${h.medianPositive} | ${h.p99Positive} | ${h.max} |`,
    );
  }
  lines.push(
    "",
    "Seeded rule alone, per kind (held-out honest only): per-audit detection at each budget (audits for P(caught) ≥ 0.95), per-token flip rate and its extrapolation to 300 / 1000 tokens:",
    "",
    "| kind | transcripts | mean tokens | flips/token | 32 | 100 | 300 | 1000 | caught in 300 tokens | in 1000 tokens |",
    "|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const [kind, d] of Object.entries(detection)) {
    const cell = (b: string) => {
      const x = d.byBudget[b];
      return x ? `${(x.perAudit * 100).toFixed(1)} % (${x.auditsFor95 ?? "∞"})` : "";
    };
    lines.push(
      `| ${kind} | ${d.transcripts} | ${d.meanTokens} | ${d.flipsPerToken} | ${cell("32")} | ${cell("100")} | ${cell("300")} | ${cell("1000")} | ${(d.caughtWithin300Tokens * 100).toFixed(2)} % | ${(d.caughtWithin1000Tokens * 100).toFixed(2)} % |`,
    );
  }
  return lines;
}

function runOrder(id: number): number {
  return Math.imul(id + 1, 0x9e3779b1) >>> 0;
}

function previousWallSeconds(): number | undefined {
  try {
    return loadCalibration().timing.wallSeconds;
  } catch {
    return undefined;
  }
}

export function summaryMarkdown(c: CalibrationFile): string {
  const lines = [
    `# Audit verdict calibration (${c.mode}, ${c.createdAt})`,
    "",
    `Reference model: ${c.referenceModel}. Wall time ${c.timing.wallSeconds} s on ${c.timing.workers} workers.`,
    "",
    "## Thresholds",
    "",
    "```json",
    JSON.stringify(c.thresholds, null, 2),
    "```",
    "",
    "## Rates (fail share; honest = false positives on held-out transcripts)",
    "",
    "| budget | kind | n | failed | rate | 95 % CI | one-sided 95 % upper |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const [budget, rates] of Object.entries(c.rates)) {
    for (const [kind, r] of Object.entries(rates)) {
      lines.push(
        `| ${budget} | ${kind} | ${r.n} | ${r.failures} | ${(r.rate * 100).toFixed(2)} % | ${(r.ci95[0] * 100).toFixed(2)}–${(r.ci95[1] * 100).toFixed(2)} % | ${r.upper95 === undefined ? "" : `${(r.upper95 * 100).toFixed(3)} %`} |`,
      );
    }
  }
  lines.push(...seededMarkdown(c), "", ...c.notes.map((n) => `- ${n}`), "");
  return lines.join("\n");
}

if (process.argv[1] === SELF) {
  const { values } = parseArgs({
    options: {
      worker: { type: "boolean", default: false },
      quick: { type: "boolean", default: false },
      workers: { type: "string" },
      out: { type: "string" },
      dump: { type: "string" },
      from: { type: "string" },
    },
  });
  if (values.worker) {
    await worker();
  } else {
    let last = 0;
    const { calibration } = await runCalibration({
      quick: values.quick,
      ...(values.workers === undefined ? {} : { workers: Number(values.workers) }),
      ...(values.dump === undefined ? {} : { dump: values.dump }),
      ...(values.from === undefined ? {} : { from: values.from }),
      onProgress: (done, total) => {
        if (done - last >= Math.max(1, Math.floor(total / 20)) || done === total) {
          last = done;
          process.stderr.write(`… ${done}/${total} transcripts\n`);
        }
      },
    });
    const out = values.out ?? (values.quick ? undefined : fileURLToPath(CALIBRATION_PATH));
    const markdown = summaryMarkdown(calibration);
    if (out) {
      writeFileSync(out, `${JSON.stringify(calibration, null, 2)}\n`);
      writeFileSync(out.replace(/\.json$/, ".md"), markdown);
      process.stderr.write(`wrote ${out}\n`);
    }
    process.stdout.write(markdown);
  }
}
