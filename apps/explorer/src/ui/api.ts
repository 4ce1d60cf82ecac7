import { useEffect, useState } from "react";
import type { Config, Overview } from "./api-types.ts";

/** The page talks only to the gateway it was served by (same origin), under `/api`. */
export async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  const body = (await response.json().catch(() => undefined)) as
    | (T & { error?: { code: string; message: string } })
    | undefined;
  if (!response.ok || body === undefined) {
    throw new Error(body?.error ? `${body.error.message} [${body.error.code}]` : `HTTP ${response.status}`);
  }
  return body;
}

export type Live = {
  overview: Overview | undefined;
  /** "stream" while server-sent events arrive, "polling" when falling back, "offline" when neither works. */
  mode: "connecting" | "stream" | "polling" | "offline";
  error: string | undefined;
};

/** After this long without a pushed snapshot the page polls `/api/overview` every 2 s instead. */
const STALE_MS = 4_500;
const POLL_MS = 2_000;

/**
 * The front page's live data: `/api/stream` (SSE, a snapshot every 2 s); when the stream is
 * unavailable or silent, polling `/api/overview` every 2 s.
 */
export function useLiveOverview(): Live {
  const [live, setLive] = useState<Live>({ overview: undefined, mode: "connecting", error: undefined });
  useEffect(() => {
    let last = 0;
    let cancelled = false;
    const apply = (overview: Overview, mode: Live["mode"]) => {
      if (cancelled) return;
      last = Date.now();
      setLive({ overview, mode, error: undefined });
    };
    const poll = async () => {
      if (Date.now() - last < STALE_MS) return;
      try {
        apply(await getJson<Overview>("/api/overview"), "polling");
      } catch (error) {
        if (!cancelled) setLive((l) => ({ ...l, mode: "offline", error: (error as Error).message }));
      }
    };
    void poll();
    const source = typeof EventSource === "function" ? new EventSource("/api/stream") : undefined;
    source?.addEventListener("overview", (e) => apply(JSON.parse((e as MessageEvent<string>).data), "stream"));
    const timer = setInterval(poll, POLL_MS);
    return () => {
      cancelled = true;
      source?.close();
      clearInterval(timer);
    };
  }, []);
  return live;
}

/** Fetches `path` again whenever `refresh` changes (e.g. each live snapshot); keeps the last answer. */
export function useJson<T>(path: string, refresh: unknown): { data: T | undefined; error: string | undefined } {
  const [state, setState] = useState<{ path: string; data: T | undefined; error: string | undefined }>({
    path,
    data: undefined,
    error: undefined,
  });
  // biome-ignore lint/correctness/useExhaustiveDependencies: `refresh` is the trigger to fetch again
  useEffect(() => {
    let cancelled = false;
    getJson<T>(path).then(
      (data) => !cancelled && setState({ path, data, error: undefined }),
      (error: Error) =>
        !cancelled && setState((s) => ({ path, data: s.path === path ? s.data : undefined, error: error.message })),
    );
    return () => {
      cancelled = true;
    };
  }, [path, refresh]);
  return state.path === path ? state : { data: undefined, error: undefined };
}

/** The deployment's fixed facts (token, chain, explorer link base), fetched once. */
export function useConfig(): Config | undefined {
  const [config, setConfig] = useState<Config>();
  useEffect(() => {
    getJson<Config>("/api/config").then(setConfig, () => {});
  }, []);
  return config;
}
