/**
 * What a validator did and what it cost: audits by outcome, challenges, committee votes, disputes,
 * canaries (answers it bought itself), and the compute spent re-scoring (tokens and seconds), split
 * between intake audits and committee re-audits — the validator side of "audit compute vs inference
 * compute".
 */
import type { AuditRunner } from "./audit-runner.ts";
import type { AuditStore } from "./audit-store.ts";
import type { CanaryStore } from "./canary-store.ts";
import type { DisputeStore } from "./dispute-store.ts";
import type { ProviderEvidence } from "./provider-evidence.ts";

export function validatorStats(args: {
  audits: AuditStore;
  disputes: DisputeStore;
  runner: AuditRunner;
  canaries: CanaryStore;
  providerEvidence?: ProviderEvidence;
  startedAt: number;
}) {
  const a = args.audits.totals();
  const d = args.disputes.totals();
  const c = args.canaries.totals(Date.now());
  return {
    uptimeSeconds: Math.floor((Date.now() - args.startedAt) / 1000),
    queueDepth: a.byStatus.queued,
    audits: a.byStatus,
    challenges: a.challenges,
    votes: d.byDuty,
    /**
     * Canary requests this validator paid for itself: sent (answered with a verified receipt), failed
     * (refused, unanswered or a bad receipt), the audits they became and what they cost (base units,
     * decimal strings).
     */
    canaries: {
      sent: c.sent,
      failed: c.failed,
      queued: c.audits.queued,
      audited: c.audits.passed + c.audits.failed,
      passed: c.audits.passed,
      caught: c.audits.failed,
      auditErrors: c.audits.error,
      spend: c.spend.toString(),
      spendLastDay: c.spendLastDay.toString(),
      /** What counts against the daily cap: charges, plus the ceilings of requests with an unknown outcome. */
      budgetUsedLastDay: c.budgetUsedLastDay.toString(),
    },
    disputes: d.byStatus,
    /** Per-provider evidence: providers and audits in the pooled log, tool calls scored, pooled challenges. */
    ...(args.providerEvidence ? { pooled: args.providerEvidence.totals() } : {}),
    compute: {
      intake: { tokens: a.tokens, seconds: a.seconds },
      committee: { tokens: d.tokens, seconds: d.seconds },
      total: { tokens: a.tokens + d.tokens, seconds: a.seconds + d.seconds },
      /** Audits run by this process since it started. */
      sinceStart: args.runner.totals(),
    },
  };
}

export type ValidatorStats = ReturnType<typeof validatorStats>;
