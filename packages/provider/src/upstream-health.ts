/**
 * Health of a model's upstream inference server (a provider started with `--upstream`): probed on
 * an interval, marked down at once when a request to it fails, and up again on the next probe that
 * answers. While it is down the provider takes no paid request for the model (`upstream_down`) and
 * its `/health` answers 503, so gateways and clients route elsewhere before paying.
 */
import { BaseError } from "@verity/core";

export type UpstreamHealthState = {
  up: boolean;
  /** The reason code of the last failure (`upstream_unreachable`, `upstream_error`) while down. */
  reason?: string;
  message?: string;
  /** When the state last changed, ms since the epoch. */
  since: number;
};

export type UpstreamHealth = {
  readonly state: UpstreamHealthState;
  /** Probes once now and updates the state. */
  check(): Promise<UpstreamHealthState>;
  /** A request to the upstream failed: down until a probe answers (only for upstream failures). */
  failed(error: unknown): void;
  start(): void;
  stop(): void;
};

const UPSTREAM_CODES = new Set(["upstream_unreachable", "upstream_error"]);

export function createUpstreamHealth(options: {
  probe: () => Promise<void>;
  /** Between probes, ms (default 2 s; 1/4 of that while down, to resume quickly). */
  intervalMs?: number;
  onChange?: (state: UpstreamHealthState) => void;
}): UpstreamHealth {
  const intervalMs = options.intervalMs ?? 2_000;
  let state: UpstreamHealthState = { up: true, since: Date.now() };
  let timer: NodeJS.Timeout | undefined;
  let running = false;

  function set(next: Omit<UpstreamHealthState, "since">): void {
    const changed = next.up !== state.up || next.reason !== state.reason;
    state = { ...next, since: changed ? Date.now() : state.since };
    if (changed) options.onChange?.(state);
  }

  function down(error: unknown): void {
    const code = error instanceof BaseError ? error.code : "upstream_unreachable";
    set({ up: false, reason: code, message: error instanceof Error ? error.message : String(error) });
  }

  async function check(): Promise<UpstreamHealthState> {
    try {
      await options.probe();
      set({ up: true });
    } catch (error) {
      down(error);
    }
    return state;
  }

  function schedule(): void {
    if (!running) return;
    timer = setTimeout(
      () => {
        void check().finally(schedule);
      },
      state.up ? intervalMs : Math.max(50, Math.floor(intervalMs / 4)),
    );
    timer.unref();
  }

  return {
    get state() {
      return state;
    },
    check,
    failed(error) {
      if (error instanceof BaseError && UPSTREAM_CODES.has(error.code)) down(error);
    },
    start() {
      if (running) return;
      running = true;
      schedule();
    },
    stop() {
      running = false;
      if (timer) clearTimeout(timer);
    },
  };
}
