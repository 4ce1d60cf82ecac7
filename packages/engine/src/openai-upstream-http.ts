/**
 * HTTP to an OpenAI-compatible upstream (vLLM, SGLang, Ollama, llama.cpp server, a Verity provider):
 * JSON requests, server-sent event streams, and one error mapping. A failed connection is
 * `upstream_unreachable`; an error status is `upstream_error`, unless the upstream answered with a
 * Verity reason code of its own (a Verity provider upstream), which is passed through.
 */
import { type ReasonCode, RequestError, reasonStatus } from "@verity/core";
import { EventSourceParserStream } from "eventsource-parser/stream";

export type UpstreamHttpOptions = {
  /** Server root or its `/v1` (both accepted): `http://127.0.0.1:8000` or `http://127.0.0.1:8000/v1`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  headers?: Record<string, string>;
  fetch?: typeof fetch;
};

export type UpstreamHttp = {
  /** Base URL without a trailing slash or `/v1`. */
  readonly root: string;
  /**
   * Sends a request; only a connection failure or `timeoutMs` (default none) throws. An aborted
   * `signal` rethrows the abort.
   */
  send(path: string, init: RequestInit): Promise<Response>;
  /** Sends a request and returns its JSON body; an error status throws. `timeoutMs` defaults to 30 s. */
  json(path: string, init: RequestInit): Promise<unknown>;
  /** POSTs and yields each server-sent event's JSON until `[DONE]` or the end of the stream. */
  events(path: string, body: unknown, signal?: AbortSignal): AsyncGenerator<unknown>;
};

type RequestInit = { method?: "GET" | "POST"; body?: unknown; signal?: AbortSignal; timeoutMs?: number };

/** How long a JSON request may take by default (streams have no default limit). */
const DEFAULT_JSON_TIMEOUT_MS = 30_000;

export function createUpstreamHttp(options: UpstreamHttpOptions): UpstreamHttp {
  const root = options.baseUrl.replace(/\/+$/, "").replace(/\/v1$/, "");
  try {
    new URL(root);
  } catch (cause) {
    throw new RequestError(`The upstream URL ${JSON.stringify(options.baseUrl)} is not a URL`, {
      code: "invalid_parameter",
      hint: "Give the server's base URL, e.g. http://127.0.0.1:8000",
      cause,
    });
  }
  const doFetch = options.fetch ?? fetch;
  const headers: Record<string, string> = {
    accept: "application/json, text/event-stream",
    ...(options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` }),
    ...options.headers,
  };

  async function send(path: string, init: RequestInit): Promise<Response> {
    const method = init.method ?? (init.body === undefined ? "GET" : "POST");
    const timeout = init.timeoutMs === undefined ? undefined : AbortSignal.timeout(init.timeoutMs);
    const signals = [init.signal, timeout].filter((s) => s !== undefined);
    try {
      return await doFetch(`${root}${path}`, {
        method,
        headers: init.body === undefined ? headers : { ...headers, "content-type": "application/json" },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
        ...(signals.length === 0 ? {} : { signal: AbortSignal.any(signals) }),
      });
    } catch (cause) {
      if (init.signal?.aborted) throw cause;
      const what = timeout?.aborted ? `within ${init.timeoutMs} ms` : "";
      throw new RequestError(`The upstream ${root} did not answer ${method} ${path} ${what}`.trim(), {
        code: "upstream_unreachable",
        hint: "Check that the inference server runs and that the base URL and port are right",
        details: { url: `${root}${path}`, reason: errorText(cause) },
        cause,
      });
    }
  }

  async function json(path: string, init: RequestInit): Promise<unknown> {
    const response = await send(path, { ...init, timeoutMs: init.timeoutMs ?? DEFAULT_JSON_TIMEOUT_MS });
    if (!response.ok) throw await upstreamError(response, path);
    try {
      return await response.json();
    } catch (cause) {
      if (init.signal?.aborted) throw cause;
      throw new RequestError(`The upstream answered ${path} with a body that is not JSON`, {
        code: "upstream_error",
        hint: "Check that the base URL points at an OpenAI-compatible server",
        cause,
      });
    }
  }

  async function* events(path: string, body: unknown, signal?: AbortSignal): AsyncGenerator<unknown> {
    const response = await send(path, { body, ...(signal ? { signal } : {}) });
    if (!response.ok) throw await upstreamError(response, path);
    if (!response.body) return;
    const reader = response.body
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(new EventSourceParserStream())
      .getReader();
    try {
      while (true) {
        let next: ReadableStreamReadResult<{ data: string }>;
        try {
          next = await reader.read();
        } catch (cause) {
          if (signal?.aborted) throw cause;
          throw new RequestError(`The upstream's stream on ${path} broke off`, {
            code: "upstream_error",
            hint: "See the upstream server's log; retry if the error is transient",
            details: { reason: errorText(cause) },
            cause,
          });
        }
        if (next.done || next.value.data === "[DONE]") return;
        yield parseEvent(next.value.data, path);
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  }

  return { root, send, json, events };
}

function parseEvent(text: string, path: string): unknown {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new RequestError(`The upstream sent an event on ${path} that is not JSON`, {
      code: "upstream_error",
      details: { data: text.slice(0, 200) },
      cause,
    });
  }
  const error = (data as { error?: unknown } | null)?.error;
  if (error !== undefined && error !== null) throw fromErrorBody(data, 502, path);
  return data;
}

/** The RequestError for an upstream error response (reads the body). */
export async function upstreamError(response: Response, path: string): Promise<RequestError> {
  const text = await response.text().catch(() => "");
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return fromErrorBody(body, response.status, path);
}

/**
 * Error bodies seen in the wild: Verity and llama.cpp `{error: {code, message}}`, OpenAI
 * `{error: {message, type}}`, vLLM `{object: "error", message}`, FastAPI `{detail}`, plain text.
 */
function fromErrorBody(body: unknown, status: number, path: string): RequestError {
  const outer = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const inner = (typeof outer.error === "object" && outer.error !== null ? outer.error : outer) as Record<
    string,
    unknown
  >;
  const message =
    [inner.message, outer.message, outer.detail, typeof outer.error === "string" ? outer.error : undefined, body]
      .find((m) => typeof m === "string" && m.length > 0)
      ?.toString()
      .slice(0, 500) ?? `HTTP ${status}`;
  const code = typeof inner.code === "string" ? inner.code : undefined;
  if (code !== undefined && isPassThrough(code) && status >= 400 && status < 500) {
    return new RequestError(`The upstream rejected ${path}: ${message}`, {
      code,
      ...(typeof inner.hint === "string" ? { hint: inner.hint } : {}),
      details: { status },
    });
  }
  return new RequestError(`The upstream answered ${path} with HTTP ${status}: ${message}`, {
    code: "upstream_error",
    hint:
      status === 401 || status === 403
        ? "Check the API key (apiKey) the upstream expects"
        : "See the upstream server's log; retry if the error is transient",
    details: { status, ...(code === undefined ? {} : { upstreamCode: code }) },
  });
}

/** Request-level Verity codes a provider upstream may answer with and that mean the same here. */
function isPassThrough(code: string): code is ReasonCode {
  const codes: string[] = [
    "invalid_request",
    "prompt_too_long",
    "max_tokens_over_offer",
    "rate_limited",
    "unknown_model",
  ];
  return codes.includes(code) && reasonStatus(code as ReasonCode) < 500;
}

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${cause}`;
}
