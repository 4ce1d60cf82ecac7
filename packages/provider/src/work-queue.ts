import { RequestError } from "@verity/core";

/**
 * Bounds the work waiting for an engine: at most `concurrency` jobs run, at most `maxQueued` wait;
 * past that a request is refused at once with `rate_limited` (HTTP 429 + Retry-After) instead of
 * piling up latency for everyone.
 */
export function createWorkQueue(options: { concurrency?: number; maxQueued: number; retryAfterSeconds?: number }) {
  const concurrency = options.concurrency ?? 1;
  let running = 0;
  const waiting: (() => void)[] = [];

  async function run<T>(job: () => Promise<T>): Promise<T> {
    if (running >= concurrency) {
      if (waiting.length >= options.maxQueued) {
        throw new RequestError("The provider's queue is full", {
          code: "rate_limited",
          hint: "Retry after the delay in Retry-After, or use another provider",
          details: { retryAfterSeconds: options.retryAfterSeconds ?? 1, queued: waiting.length },
        });
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
    running++;
    try {
      return await job();
    } finally {
      running--;
      waiting.shift()?.();
    }
  }

  return {
    run,
    get depth(): number {
      return waiting.length;
    },
    get running(): number {
      return running;
    },
  };
}

export type WorkQueue = ReturnType<typeof createWorkQueue>;
