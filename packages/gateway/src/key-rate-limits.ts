/**
 * Rate limits an API key's owner signed (`verity:rpm`, `verity:tpm`, `verity:concurrency`),
 * counted in this replica's memory: requests admitted in the last 60 s, tokens (prompt +
 * completion) of requests finished in the last 60 s, and requests in flight. A refusal is
 * `rate_limited` (429) with `details.limit` (`requests_per_minute`, `tokens_per_minute`,
 * `concurrency`) and `retryAfterSeconds` (sent as `Retry-After`).
 *
 * Per replica, by design: behind a load balancer spreading one key over n replicas a key may reach
 * n × its rate; rates protect capacity, not money, and a shared counter would cost a database
 * round trip per request on the hot path. Money bounds (per call, per day, total) are enforced in
 * the shared store under the key row's lock (api-keys.ts), so they hold across replicas.
 */
import { type KeyScope, RequestError } from "@verity/core";

const WINDOW_MS = 60_000;

export type RateSlot = {
  /** Ends the request: frees its concurrency slot and counts its tokens. Idempotent. */
  finish(tokens?: number): void;
};

export function createKeyRateLimits(options: { now?: () => number } = {}) {
  const now = options.now ?? Date.now;
  const started = new Map<string, number[]>();
  const tokens = new Map<string, { at: number; n: number }[]>();
  const inFlight = new Map<string, number>();

  const recent = <T extends number | { at: number }>(list: T[] | undefined, at: number): T[] =>
    (list ?? []).filter((e) => (typeof e === "number" ? e : e.at) > at - WINDOW_MS);

  function refuse(limit: string, max: number, retryAfterMs: number, id: string): never {
    const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    throw new RequestError(`The API key's ${limit.replaceAll("_", " ")} limit of ${max} is reached`, {
      code: "rate_limited",
      hint: `Retry after ${retryAfterSeconds} s, or use a key with a higher limit`,
      details: { id, limit, max, retryAfterSeconds },
    });
  }

  return {
    /** Admits a request of key `id` under `scope`'s rates, or throws `rate_limited`. */
    admit(id: string, scope: KeyScope): RateSlot {
      const { rpm, tpm, concurrency } = scope;
      if (rpm === undefined && tpm === undefined && concurrency === undefined) return { finish() {} };
      const at = now();
      const times = recent(started.get(id), at);
      started.set(id, times);
      const used = recent(tokens.get(id), at);
      tokens.set(id, used);
      const current = inFlight.get(id) ?? 0;
      if (concurrency !== undefined && current >= concurrency) refuse("concurrency", concurrency, 1_000, id);
      if (rpm !== undefined && times.length >= rpm) {
        refuse("requests_per_minute", rpm, (times[times.length - rpm] ?? at) + WINDOW_MS - at, id);
      }
      if (tpm !== undefined) {
        let sum = used.reduce((s, e) => s + e.n, 0);
        if (sum >= tpm) {
          // Retry once enough of the window's tokens have aged out to go below the limit.
          let wait = 0;
          for (const e of used) {
            sum -= e.n;
            wait = e.at + WINDOW_MS - at;
            if (sum < tpm) break;
          }
          refuse("tokens_per_minute", tpm, wait, id);
        }
      }
      times.push(at);
      inFlight.set(id, current + 1);
      let done = false;
      return {
        finish(n = 0) {
          if (done) return;
          done = true;
          const left = (inFlight.get(id) ?? 1) - 1;
          if (left > 0) inFlight.set(id, left);
          else inFlight.delete(id);
          if (n > 0) tokens.set(id, [...recent(tokens.get(id), now()), { at: now(), n }]);
        },
      };
    },
    inFlight: (id: string) => inFlight.get(id) ?? 0,
  };
}

export type KeyRateLimits = ReturnType<typeof createKeyRateLimits>;
