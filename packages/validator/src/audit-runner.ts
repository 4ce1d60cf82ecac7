/**
 * Runs audits one at a time for the whole validator (intake samples and committee re-audits share
 * the CPU with everything else) and accounts for the compute: tokens re-scored and seconds spent.
 */
import type { Engine } from "@verity/engine";
import type { Verdict } from "./audit-verdict.ts";
import type { AuditSamplePayload } from "./intake.ts";
import { auditSample } from "./intake.ts";
import type { ValidatorMetrics } from "./metrics.ts";
import type { Thresholds } from "./thresholds.ts";

export type AuditPurpose = "intake" | "committee";

export type AuditRun = { verdict: Verdict & { paramsVerifiable: boolean }; tokens: number; seconds: number };

export function createAuditRunner(options: {
  metrics: ValidatorMetrics;
  thresholds?: Thresholds;
  /**
   * Suspect engines per audited model name: cheaper variants a provider might pass off as the model
   * (its 4-bit quantisation, a distilled sibling). Each adds one prefill and a log-likelihood-ratio
   * test (`minSuspectLlr`) that catches substitutes the rank and probability checks alone miss.
   */
  suspects?: Readonly<Record<string, readonly Engine[]>>;
}) {
  let tail: Promise<unknown> = Promise.resolve();
  const totals = { audits: 0, tokens: 0, seconds: 0 };

  function run(args: { engine: Engine; sample: AuditSamplePayload; purpose: AuditPurpose }): Promise<AuditRun> {
    const task = tail.then(async () => {
      const started = performance.now();
      const verdict = await auditSample({
        engine: args.engine,
        sample: args.sample,
        ...(options.thresholds ? { thresholds: options.thresholds } : {}),
        suspects: options.suspects?.[args.engine.name] ?? [],
      });
      const seconds = (performance.now() - started) / 1000;
      const suspects = options.suspects?.[args.engine.name]?.length ?? 0;
      // Every prefill counts: the claimed model's and one per suspect.
      const tokens = (args.sample.promptTokenIds.length + args.sample.outputTokenIds.length) * (1 + suspects);
      totals.audits++;
      totals.tokens += tokens;
      totals.seconds += seconds;
      options.metrics.auditSeconds.observe({ purpose: args.purpose }, seconds);
      options.metrics.tokens.inc({ purpose: args.purpose }, tokens);
      options.metrics.audits.inc({ purpose: args.purpose, verdict: verdict.pass ? "pass" : "fail" });
      return { verdict, tokens, seconds };
    });
    tail = task.catch(() => undefined);
    return task;
  }

  return {
    run,
    /** Compute spent by this process since start (the stores keep the all-time sums). */
    totals: () => ({ ...totals }),
  };
}

export type AuditRunner = ReturnType<typeof createAuditRunner>;
