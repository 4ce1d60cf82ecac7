/**
 * What a validator did and what it cost: audits by outcome, challenges, committee votes, disputes,
 * and the compute spent re-scoring (tokens and seconds), split between intake audits and committee
 * re-audits — the validator side of "audit compute vs inference compute".
 */
import type { AuditRunner } from "./audit-runner.ts";
import type { AuditStore } from "./audit-store.ts";
import type { DisputeStore } from "./dispute-store.ts";

export function validatorStats(args: {
  audits: AuditStore;
  disputes: DisputeStore;
  runner: AuditRunner;
  startedAt: number;
}) {
  const a = args.audits.totals();
  const d = args.disputes.totals();
  return {
    uptimeSeconds: Math.floor((Date.now() - args.startedAt) / 1000),
    queueDepth: a.byStatus.queued,
    audits: a.byStatus,
    challenges: a.challenges,
    votes: d.byDuty,
    disputes: d.byStatus,
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
