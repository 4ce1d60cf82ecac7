/** What the prober has learned about one provider endpoint. */
export type EndpointHealth = {
  latencyMs: number;
  failureRate: number;
  queueDepth: number;
  healthy: boolean;
  consecutiveFailures: number;
  checkedAt: number;
};

const ALPHA = 0.3;

/**
 * Probes provider endpoints' `/health` on an interval and keeps smoothed latency and failure rate
 * (EWMA) plus the reported queue depth. Requests that fail also count (`recordFailure`), so a
 * provider that breaks between probes stops being chosen at once. Unhealthy after 2 failures in a row.
 */
export function createHealthProber(options: { intervalMs?: number; timeoutMs?: number; fetch?: typeof fetch } = {}) {
  const doFetch = options.fetch ?? fetch;
  const endpoints = new Map<string, EndpointHealth>();
  let timer: NodeJS.Timeout | undefined;

  function entry(url: string): EndpointHealth {
    let e = endpoints.get(url);
    if (!e) {
      e = { latencyMs: 50, failureRate: 0, queueDepth: 0, healthy: true, consecutiveFailures: 0, checkedAt: 0 };
      endpoints.set(url, e);
    }
    return e;
  }

  function recordSuccess(url: string, latencyMs: number, queueDepth?: number): void {
    const e = entry(url);
    e.latencyMs = e.checkedAt === 0 ? latencyMs : e.latencyMs * (1 - ALPHA) + latencyMs * ALPHA;
    e.failureRate *= 1 - ALPHA;
    if (queueDepth !== undefined) e.queueDepth = queueDepth;
    e.consecutiveFailures = 0;
    e.healthy = true;
    e.checkedAt = Date.now();
  }

  function recordFailure(url: string): void {
    const e = entry(url);
    e.failureRate = e.failureRate * (1 - ALPHA) + ALPHA;
    e.consecutiveFailures++;
    e.healthy = e.consecutiveFailures < 2;
    e.checkedAt = Date.now();
  }

  async function probe(url: string): Promise<void> {
    const started = performance.now();
    try {
      const response = await doFetch(`${url}/health`, { signal: AbortSignal.timeout(options.timeoutMs ?? 2_000) });
      const body = (await response.json()) as { status?: string; queueDepth?: number };
      if (!response.ok || body.status !== "ok") throw new Error(`status ${response.status}`);
      recordSuccess(url, performance.now() - started, body.queueDepth);
    } catch {
      recordFailure(url);
    }
  }

  async function probeAll(urls: Iterable<string>): Promise<void> {
    await Promise.all([...new Set(urls)].map((url) => probe(url)));
  }

  return {
    get(url: string): EndpointHealth {
      return entry(url);
    },
    recordSuccess,
    recordFailure,
    probeAll,
    start(urls: () => Iterable<string>): void {
      const tick = async () => {
        await probeAll(urls());
        timer = setTimeout(tick, options.intervalMs ?? 5_000);
        timer.unref();
      };
      void tick();
    },
    stop(): void {
      if (timer) clearTimeout(timer);
    },
  };
}

export type HealthProber = ReturnType<typeof createHealthProber>;
