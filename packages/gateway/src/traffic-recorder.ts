import type { MiddlewareHandler } from "hono";
import type { TrafficSample, TrafficSeries } from "./traffic-series.ts";

type Answer = {
  model?: unknown;
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown };
  verity?: { gateway?: { agentId?: unknown; charged?: unknown } };
  error?: unknown;
};

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

function sampleOf(args: { route: string; answer: Answer | undefined; ok: boolean; ms: number }): TrafficSample {
  const { answer } = args;
  const gateway = answer?.verity?.gateway;
  const charged = typeof gateway?.charged === "string" && /^\d+$/.test(gateway.charged) ? BigInt(gateway.charged) : 0n;
  return {
    route: args.route,
    ok: args.ok && answer !== undefined && answer.error === undefined,
    ...(typeof answer?.model === "string" ? { model: answer.model } : {}),
    ...(typeof gateway?.agentId === "string" ? { agentId: gateway.agentId } : {}),
    promptTokens: num(answer?.usage?.prompt_tokens),
    completionTokens: num(answer?.usage?.completion_tokens),
    charged,
    ms: args.ms,
  };
}

/**
 * Watches a stream of SSE bytes go by untouched and remembers what the gateway's final chunk says
 * (usage, serving agent, charge) or whether an error chunk was sent. `model` comes from any chunk.
 */
function sseWatcher(onEnd: (answer: Answer | undefined) => void): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  let pending = "";
  let model: unknown;
  let final: Answer | undefined;
  let failed = false;
  const scan = (line: string) => {
    if (!line.startsWith("data: {")) return;
    if (model === undefined) model = /"model":"([^"]*)"/.exec(line)?.[1];
    if (line.includes('"error"') && !line.includes('"choices"')) failed = true;
    else if (line.includes('"usage"') && line.includes('"verity"')) {
      try {
        final = JSON.parse(line.slice(6)) as Answer;
      } catch {
        // not the final chunk after all
      }
    }
  };
  return new TransformStream({
    transform(chunk, controller) {
      controller.enqueue(chunk);
      pending += decoder.decode(chunk, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) scan(line);
    },
    flush() {
      scan(pending);
      onEnd(failed ? { error: true } : final ? { ...final, model: final.model ?? model } : undefined);
    },
  });
}

/**
 * Middleware for the gateway's inference routes: after the route answered, reads what the caller
 * got (the JSON body, or the final chunk of a stream as it passes) and records one sample in the
 * traffic series. The response itself is not changed.
 */
export function recordTraffic(args: { series: TrafficSeries; route: string }): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method !== "POST") return next();
    const started = performance.now();
    await next();
    const res = c.res;
    const type = res.headers.get("content-type") ?? "";
    if (type.startsWith("text/event-stream") && res.body) {
      const body = res.body.pipeThrough(
        sseWatcher((answer) =>
          args.series.record(sampleOf({ route: args.route, answer, ok: res.ok, ms: performance.now() - started })),
        ),
      );
      c.res = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
      return;
    }
    let answer: Answer | undefined;
    if (type.startsWith("application/json")) {
      answer = (await res
        .clone()
        .json()
        .catch(() => undefined)) as Answer | undefined;
    }
    args.series.record(sampleOf({ route: args.route, answer, ok: res.ok, ms: performance.now() - started }));
  };
}
