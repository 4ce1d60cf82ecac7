import { Counter, Histogram, Registry } from "prom-client";

/** Prometheus metrics of a gateway (`GET /metrics`). */
export function createGatewayMetrics() {
  const registry = new Registry();
  const requests = new Counter({
    name: "verity_gateway_requests_total",
    help: "Requests by route and status",
    labelNames: ["route", "status"] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: "verity_gateway_request_seconds",
    help: "End-to-end latency of gateway requests",
    labelNames: ["route"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const failovers = new Counter({
    name: "verity_gateway_failovers_total",
    help: "Requests moved to another provider",
    registers: [registry],
  });
  const revenue = new Counter({
    name: "verity_gateway_charged_base_units_total",
    help: "Charged to gateway users, base units",
    registers: [registry],
  });
  return {
    registry,
    observe(e: { route: string; status: number; seconds: number; failovers: number; charged: bigint }): void {
      requests.inc({ route: e.route, status: String(e.status) });
      latency.observe({ route: e.route }, e.seconds);
      if (e.failovers > 0) failovers.inc(e.failovers);
      if (e.charged > 0n) revenue.inc(Number(e.charged));
    },
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
