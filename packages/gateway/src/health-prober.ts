import type { BaseError } from "@verity/core";
import { checkEndpointUrl, type EndpointGuard } from "@verity/sdk";

/** What the prober has learned about one provider endpoint. */
export type EndpointHealth = {
  /** Why it is unhealthy regardless of probes: `endpoint_forbidden` (the endpoint guard refused it). */
  reason?: "endpoint_forbidden";
  /** The guard's detail, e.g. `loopback 127.0.0.1`. */
  forbidden?: string;
  latencyMs: number;
  failureRate: number;
  queueDepth: number;
  healthy: boolean;
  consecutiveFailures: number;
  checkedAt: number;
  /** Quantization per model name, as the provider's `/health` announces it (`served[]`, from its manifests). */
  quantization: Record<string, string>;
  /** What the provider promises about request data (`/health` `dataCollection`); absent = no promise. */
  dataCollection?: "allow" | "deny";
  /** The latest round trips (probes and served requests), ms, oldest first (at most `SAMPLES`). */
  latencySamples: number[];
  /** Output tokens per second of the latest served requests (at most `SAMPLES`). */
  throughputSamples: number[];
};

/** Samples kept per endpoint for percentile cut-offs. */
export const SAMPLES = 64;

function push(samples: number[], value: number): void {
  samples.push(value);
  if (samples.length > SAMPLES) samples.shift();
}

const ALPHA = 0.3;

/**
 * Probes provider endpoints' `/health` on an interval and keeps smoothed latency and failure rate
 * (EWMA) plus the reported queue depth. Requests that fail also count (`recordFailure`), so a
 * provider that breaks between probes stops being chosen at once. Unhealthy after 2 failures in a row.
 * With a `guard`, an endpoint the guard refuses (it is, or resolves to, a private address) is never
 * connected to: it is unhealthy with reason `endpoint_forbidden` and `onForbidden` hears of it on
 * every probe round (the caller logs once per offer).
 */
export function createHealthProber(
  options: {
    intervalMs?: number;
    timeoutMs?: number;
    fetch?: typeof fetch;
    guard?: EndpointGuard;
    onForbidden?: (url: string, reason: string) => void;
    /** A refused endpoint answered a probe after all (its address changed to a public one). */
    onAllowed?: (url: string) => void;
  } = {},
) {
  const { guard } = options;
  const doFetch = guard ? guard.wrap(options.fetch ?? fetch) : (options.fetch ?? fetch);
  const endpoints = new Map<string, EndpointHealth>();
  let timer: NodeJS.Timeout | undefined;

  function entry(url: string): EndpointHealth {
    let e = endpoints.get(url);
    if (!e) {
      e = {
        latencyMs: 50,
        failureRate: 0,
        queueDepth: 0,
        healthy: true,
        consecutiveFailures: 0,
        checkedAt: 0,
        quantization: {},
        latencySamples: [],
        throughputSamples: [],
      };
      // Not yet probed: what the URL alone shows already keeps a forbidden endpoint out of routing.
      const verdict = guard ? checkEndpointUrl(url) : { ok: true as const };
      if (!verdict.ok) Object.assign(e, { healthy: false, reason: "endpoint_forbidden", forbidden: verdict.reason });
      endpoints.set(url, e);
    }
    return e;
  }

  function recordSuccess(url: string, latencyMs: number, queueDepth?: number): void {
    const e = entry(url);
    e.latencyMs = e.checkedAt === 0 ? latencyMs : e.latencyMs * (1 - ALPHA) + latencyMs * ALPHA;
    push(e.latencySamples, latencyMs);
    e.failureRate *= 1 - ALPHA;
    if (queueDepth !== undefined) e.queueDepth = queueDepth;
    e.consecutiveFailures = 0;
    e.healthy = true;
    if (e.reason) options.onAllowed?.(url);
    delete e.reason;
    delete e.forbidden;
    e.checkedAt = Date.now();
  }

  /** A served request produced `tokens` output tokens in `ms`. */
  function recordThroughput(url: string, tokens: number, ms: number): void {
    if (tokens > 0 && ms > 0) push(entry(url).throughputSamples, (tokens * 1000) / ms);
  }

  function recordFailure(url: string): void {
    const e = entry(url);
    e.failureRate = e.failureRate * (1 - ALPHA) + ALPHA;
    e.consecutiveFailures++;
    e.healthy = e.consecutiveFailures < 2;
    e.checkedAt = Date.now();
  }

  /** The guard refused the endpoint: unhealthy until a later probe finds it allowed. */
  function recordForbidden(url: string, reason: string): void {
    const e = entry(url);
    e.consecutiveFailures++;
    e.failureRate = e.failureRate * (1 - ALPHA) + ALPHA;
    e.healthy = false;
    e.reason = "endpoint_forbidden";
    e.forbidden = reason;
    e.checkedAt = Date.now();
    options.onForbidden?.(url, reason);
  }

  async function probe(url: string): Promise<void> {
    if (guard) {
      const verdict = await guard.check(url);
      if (!verdict.ok) return recordForbidden(url, verdict.reason);
    }
    const started = performance.now();
    try {
      const response = await doFetch(`${url}/health`, { signal: AbortSignal.timeout(options.timeoutMs ?? 2_000) });
      const body = (await response.json()) as {
        status?: string;
        queueDepth?: number;
        served?: unknown;
        dataCollection?: unknown;
      };
      if (!response.ok || body.status !== "ok") throw new Error(`status ${response.status}`);
      recordSuccess(url, performance.now() - started, body.queueDepth);
      const e = entry(url);
      e.quantization = announcedQuantization(body.served);
      if (body.dataCollection === "deny" || body.dataCollection === "allow") e.dataCollection = body.dataCollection;
      else delete e.dataCollection;
    } catch (error) {
      const code = (error as BaseError).code;
      if (code === "endpoint_forbidden") recordForbidden(url, String((error as BaseError).details.reason));
      else recordFailure(url);
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
    recordThroughput,
    recordFailure,
    recordForbidden,
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

/** `served: [{ model, quantization? }]` from a provider's `/health`, as model → quantization. */
function announcedQuantization(served: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(served)) return out;
  for (const s of served as { model?: unknown; quantization?: unknown }[]) {
    if (typeof s?.model === "string" && typeof s.quantization === "string") out[s.model] = s.quantization;
  }
  return out;
}

export type HealthProber = ReturnType<typeof createHealthProber>;
