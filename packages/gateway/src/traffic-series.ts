/** One request the gateway answered, as the traffic series counts it. */
export type TrafficSample = {
  /** `chat` or `completions`. */
  route: string;
  /** Final HTTP status (a stream that ended with an error chunk counts as failed). */
  ok: boolean;
  model?: string;
  agentId?: string;
  promptTokens: number;
  completionTokens: number;
  /** What the caller was charged, in payment-token base units. */
  charged: bigint;
  /** End-to-end duration (until the last byte for streams). */
  ms: number;
};

/** One time bucket of the series (`requests` are answered ones, `failed` the rest). Amounts are decimal strings in payment-token base units. */
export type TrafficPoint = {
  /** Bucket start, unix ms. */
  t: number;
  requests: number;
  failed: number;
  tokens: number;
  promptTokens: number;
  completionTokens: number;
  charged: string;
  /** Settled on chain (claims the indexer saw in this bucket). */
  paid: string;
};

type Bucket = {
  start: number;
  requests: number;
  failed: number;
  promptTokens: number;
  completionTokens: number;
  charged: bigint;
  paid: bigint;
  byAgent: Map<string, { requests: number; tokens: number }>;
};

type Ring = { stepMs: number; buckets: (Bucket | undefined)[] };

export type AgentTraffic = { requests: number; failed: number; tokens: number; ms: number };

const fresh = (start: number): Bucket => ({
  start,
  requests: 0,
  failed: 0,
  promptTokens: 0,
  completionTokens: 0,
  charged: 0n,
  paid: 0n,
  byAgent: new Map(),
});

function bucketAt(ring: Ring, now: number): Bucket {
  const start = Math.floor(now / ring.stepMs) * ring.stepMs;
  const index = Math.floor(now / ring.stepMs) % ring.buckets.length;
  let bucket = ring.buckets[index];
  if (!bucket || bucket.start !== start) {
    bucket = fresh(start);
    ring.buckets[index] = bucket;
  }
  return bucket;
}

function read(ring: Ring, now: number, count: number, agentId?: string): TrafficPoint[] {
  const n = Math.min(count, ring.buckets.length);
  const last = Math.floor(now / ring.stepMs) * ring.stepMs;
  const out: TrafficPoint[] = [];
  for (let i = n - 1; i >= 0; i--) {
    const start = last - i * ring.stepMs;
    const stored = ring.buckets[Math.floor(start / ring.stepMs) % ring.buckets.length];
    const b = stored && stored.start === start ? stored : undefined;
    const agent = agentId === undefined ? undefined : b?.byAgent.get(agentId);
    out.push(
      agentId === undefined
        ? {
            t: start,
            requests: b?.requests ?? 0,
            failed: b?.failed ?? 0,
            tokens: (b?.promptTokens ?? 0) + (b?.completionTokens ?? 0),
            promptTokens: b?.promptTokens ?? 0,
            completionTokens: b?.completionTokens ?? 0,
            charged: (b?.charged ?? 0n).toString(),
            paid: (b?.paid ?? 0n).toString(),
          }
        : {
            t: start,
            requests: agent?.requests ?? 0,
            failed: 0,
            tokens: agent?.tokens ?? 0,
            promptTokens: 0,
            completionTokens: 0,
            charged: "0",
            paid: "0",
          },
    );
  }
  return out;
}

/**
 * The gateway's own view of its traffic: every request it answered, counted into two in-memory
 * rings (1 s buckets for live rates, 10 s buckets for an hour of charts) plus running totals per
 * provider and per model. Settled payments (claims seen by the indexer) are added to the same
 * buckets, so traffic and earnings share one time axis. Nothing is persisted: the series starts
 * empty when the gateway starts.
 */
export function createTrafficSeries(
  options: { now?: () => number; fineBuckets?: number; coarseBuckets?: number } = {},
) {
  const now = options.now ?? Date.now;
  const fine: Ring = { stepMs: 1_000, buckets: new Array(options.fineBuckets ?? 120) };
  const coarse: Ring = { stepMs: 10_000, buckets: new Array(options.coarseBuckets ?? 360) };
  const agents = new Map<string, AgentTraffic>();
  const models = new Map<string, { requests: number; tokens: number }>();
  const totals = { requests: 0, failed: 0, tokens: 0, charged: 0n, since: now() };

  return {
    record(sample: TrafficSample): void {
      const t = now();
      const tokens = sample.promptTokens + sample.completionTokens;
      if (sample.ok) totals.requests++;
      else totals.failed++;
      totals.tokens += tokens;
      totals.charged += sample.charged;
      for (const ring of [fine, coarse]) {
        const b = bucketAt(ring, t);
        if (sample.ok) b.requests++;
        else b.failed++;
        b.promptTokens += sample.promptTokens;
        b.completionTokens += sample.completionTokens;
        b.charged += sample.charged;
        if (sample.agentId !== undefined) {
          const a = b.byAgent.get(sample.agentId) ?? { requests: 0, tokens: 0 };
          a.requests++;
          a.tokens += tokens;
          b.byAgent.set(sample.agentId, a);
        }
      }
      if (sample.agentId !== undefined) {
        const a = agents.get(sample.agentId) ?? { requests: 0, failed: 0, tokens: 0, ms: 0 };
        if (sample.ok) a.requests++;
        else a.failed++;
        a.tokens += tokens;
        a.ms += sample.ms;
        agents.set(sample.agentId, a);
      }
      if (sample.model !== undefined && sample.ok) {
        const m = models.get(sample.model) ?? { requests: 0, tokens: 0 };
        m.requests++;
        m.tokens += tokens;
        models.set(sample.model, m);
      }
    },
    /** Adds a settled amount (a claim's increase) to the current buckets. */
    recordPaid(amount: bigint): void {
      const t = now();
      for (const ring of [fine, coarse]) bucketAt(ring, t).paid += amount;
    },
    /** The last `count` 10 s buckets, oldest first (empty buckets included); one agent's when given. */
    points(args: { count: number; agentId?: string }): TrafficPoint[] {
      return read(coarse, now(), args.count, args.agentId);
    },
    /** The last `count` 1 s buckets, oldest first. */
    finePoints(args: { count: number }): TrafficPoint[] {
      return read(fine, now(), args.count);
    },
    /** Requests and tokens per second over the last `seconds` complete seconds. */
    rates(args: { seconds?: number } = {}): { requestsPerSec: number; tokensPerSec: number } {
      const points = read(fine, now() - 1_000, args.seconds ?? 10);
      const requests = points.reduce((s, p) => s + p.requests, 0);
      const tokens = points.reduce((s, p) => s + p.tokens, 0);
      return { requestsPerSec: requests / points.length, tokensPerSec: tokens / points.length };
    },
    agent(agentId: string): AgentTraffic {
      return agents.get(agentId) ?? { requests: 0, failed: 0, tokens: 0, ms: 0 };
    },
    model(name: string): { requests: number; tokens: number } {
      return models.get(name) ?? { requests: 0, tokens: 0 };
    },
    totals(): { requests: number; failed: number; tokens: number; charged: string; since: number } {
      return { ...totals, charged: totals.charged.toString() };
    },
    stepMs: coarse.stepMs,
  };
}

export type TrafficSeries = ReturnType<typeof createTrafficSeries>;
