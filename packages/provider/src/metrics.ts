import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** Prometheus metrics of a provider (`GET /metrics`). */
export function createProviderMetrics() {
  const registry = new Registry();
  const requests = new Counter({
    name: "verity_provider_requests_total",
    help: "HTTP requests by route and status",
    labelNames: ["route", "status"] as const,
    registers: [registry],
  });
  const tokens = new Counter({
    name: "verity_provider_tokens_total",
    help: "Tokens processed by kind (prompt, completion)",
    labelNames: ["model", "kind"] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: "verity_provider_request_seconds",
    help: "Latency of paid inference requests",
    labelNames: ["model", "stream"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const earnings = new Counter({
    name: "verity_provider_earnings_base_units_total",
    help: "Charged amount in payment-token base units",
    labelNames: ["model"] as const,
    registers: [registry],
  });
  const claimLag = new Gauge({
    name: "verity_provider_claim_lag_seconds",
    help: "Age of the oldest charge not yet claimed on-chain",
    registers: [registry],
  });
  const unclaimed = new Gauge({
    name: "verity_provider_unclaimed_base_units",
    help: "Charged but not yet claimed, in payment-token base units",
    registers: [registry],
  });
  const queueDepth = new Gauge({
    name: "verity_provider_queue_depth",
    help: "Requests waiting for an engine",
    labelNames: ["model"] as const,
    registers: [registry],
  });
  const substituted = new Counter({
    name: "verity_provider_substituted_requests_total",
    help: "Paid requests served by a substitute engine while receipted for the offered model (devnets, simulations)",
    labelNames: ["model"] as const,
    registers: [registry],
  });
  return { registry, requests, tokens, latency, earnings, claimLag, unclaimed, queueDepth, substituted };
}

export type ProviderMetrics = ReturnType<typeof createProviderMetrics>;
