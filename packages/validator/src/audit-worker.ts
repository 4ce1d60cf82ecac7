/**
 * The queue worker: audits queued samples one at a time, oldest first, and records each verdict. A
 * failed verdict is marked as a pending challenge in the same write. Queued work survives restarts:
 * the worker starts with whatever the store still holds.
 */

import type { AuditRunner } from "./audit-runner.ts";
import type { AuditRecord, AuditStore } from "./audit-store.ts";
import type { ValidatorMetrics } from "./metrics.ts";
import type { ModelResolver } from "./model-resolver.ts";
import { reasonOf } from "./validator-reasons.ts";

export function createAuditWorker(options: {
  store: AuditStore;
  resolver: ModelResolver;
  runner: AuditRunner;
  metrics: ValidatorMetrics;
  /** How often to look for work without a wake-up (ms, default 1,000). */
  idleMs?: number;
  onAudited?: (record: AuditRecord) => void;
  onError?: (error: unknown) => void;
}) {
  const { store } = options;
  let stopped = true;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });
  }

  async function auditNext(): Promise<boolean> {
    const next = store.nextQueued();
    if (!next) return false;
    const { record, sample } = next;
    try {
      const served = await options.resolver.resolve(BigInt(sample.modelId));
      const { verdict, tokens, seconds } = await options.runner.run({
        engine: served.engine,
        sample,
        purpose: "intake",
      });
      // A transcript that does not match its receipt proves nothing against the provider.
      const challenge = !verdict.pass && !verdict.reasons.includes("receipt_mismatch");
      store.recordVerdict({ id: record.id, verdict, tokens, seconds, challenge, at: Date.now() });
    } catch (error) {
      options.onError?.(error);
      options.metrics.audits.inc({ purpose: "intake", verdict: "error" });
      store.recordError({ id: record.id, code: reasonOf(error), at: Date.now() });
    }
    const done = store.get(record.id);
    if (done) options.onAudited?.(done);
    return true;
  }

  async function run(): Promise<void> {
    while (!stopped) {
      let worked = false;
      try {
        worked = await auditNext();
      } catch (error) {
        options.onError?.(error);
      }
      options.metrics.queueDepth.set(store.totals().byStatus.queued);
      if (!worked && !stopped) await sleep(options.idleMs ?? 1_000);
    }
  }

  return {
    start(): void {
      if (!stopped) return;
      stopped = false;
      loop = run();
    },
    /** Wakes the worker (a sample was queued). */
    notify(): void {
      wake?.();
    },
    /** Stops taking new samples and waits for the running audit to finish. */
    async stop(): Promise<void> {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}

export type AuditWorker = ReturnType<typeof createAuditWorker>;
