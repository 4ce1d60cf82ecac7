import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** Prometheus metrics of a validator (`GET /metrics`). */
export function createValidatorMetrics() {
  const registry = new Registry();
  const audits = new Counter({
    name: "verity_validator_audits_total",
    help: "Audits completed, by purpose (intake, committee) and verdict (pass, fail, error)",
    labelNames: ["purpose", "verdict"] as const,
    registers: [registry],
  });
  const intake = new Counter({
    name: "verity_validator_intake_total",
    help: "Audit samples received, by outcome (queued, duplicate, or the rejection's reason code)",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const challenges = new Counter({
    name: "verity_validator_challenges_total",
    help: "Challenges sent, by outcome (opened, or the chain's reason code)",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const votes = new Counter({
    name: "verity_validator_votes_total",
    help: "Committee votes, by phase (commit, reveal) and vote (guilty, not_guilty)",
    labelNames: ["phase", "vote"] as const,
    registers: [registry],
  });
  const resolved = new Counter({
    name: "verity_validator_disputes_resolved_total",
    help: "Disputes this validator took part in that were resolved, by role and verdict",
    labelNames: ["role", "verdict"] as const,
    registers: [registry],
  });
  const auditSeconds = new Histogram({
    name: "verity_validator_audit_seconds",
    help: "Time spent re-scoring one transcript",
    labelNames: ["purpose"] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const tokens = new Counter({
    name: "verity_validator_tokens_rescored_total",
    help: "Tokens evaluated by re-scoring (prompt + output), by purpose",
    labelNames: ["purpose"] as const,
    registers: [registry],
  });
  const queueDepth = new Gauge({
    name: "verity_validator_queue_depth",
    help: "Samples waiting for an audit",
    registers: [registry],
  });
  const canaries = new Counter({
    name: "verity_validator_canaries_total",
    help: "Canary requests, by outcome (sent, refused by the intake, failed, skipped_budget, skipped_no_offer, skipped_unavailable)",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const canaryAudits = new Counter({
    name: "verity_validator_canary_audits_total",
    help: "Audits of canary answers completed, by verdict (pass, fail, error)",
    labelNames: ["verdict"] as const,
    registers: [registry],
  });
  const canarySpend = new Counter({
    name: "verity_validator_canary_spend_total",
    help: "Charges paid for canary answers (verified receipts), in payment token base units",
    registers: [registry],
  });
  return {
    registry,
    audits,
    intake,
    challenges,
    votes,
    resolved,
    auditSeconds,
    tokens,
    queueDepth,
    canaries,
    canaryAudits,
    canarySpend,
  };
}

export type ValidatorMetrics = ReturnType<typeof createValidatorMetrics>;
