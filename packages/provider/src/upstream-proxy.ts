/**
 * Test and bench helper: a real HTTP proxy in front of an OpenAI-compatible server. It can lie
 * about `usage` (rewriting it in JSON answers and stream events, as a dishonest or buggy engine
 * would) and hold a stream after some events, so a test can kill the upstream while an answer is
 * under way and cut the connection the way the dead server's socket closes.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type UpstreamProxy = {
  url: string;
  /** Stop forwarding stream events after `events` of them (until `cut`). */
  holdAfter(events: number | undefined): void;
  /** Resolves once a held stream has forwarded its events and waits. */
  held(): Promise<void>;
  /** Closes every open connection to the clients, as a killed server's sockets close. */
  cut(): void;
  close(): Promise<void>;
};

type Usage = { prompt_tokens: number; completion_tokens: number; total_tokens?: number };

export async function startUpstreamProxy(options: {
  target: string;
  /** Rewrites every `usage` object the upstream sends. */
  lie?: (usage: Usage) => Usage;
}): Promise<UpstreamProxy> {
  const target = new URL(options.target);
  let holdAt: number | undefined;
  let onHeld: (() => void) | undefined;
  let heldPromise: Promise<void> = new Promise((resolve) => {
    onHeld = resolve;
  });
  const open = new Set<ServerResponse>();

  const rewrite = (json: unknown): unknown => {
    if (!options.lie || typeof json !== "object" || json === null) return json;
    const usage = (json as { usage?: Usage }).usage;
    return usage ? { ...json, usage: options.lie(usage) } : json;
  };

  function relay(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    open.add(res);
    res.on("close", () => open.delete(res));
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: target.host, "content-length": String(body.length) },
      },
      (answer) => {
        const type = String(answer.headers["content-type"] ?? "");
        const headers = { ...answer.headers };
        delete headers["content-length"];
        res.writeHead(answer.statusCode ?? 502, headers);
        let text = "";
        let events = 0;
        answer.setEncoding("utf8");
        answer.on("data", (part: string) => {
          text += part;
          if (!type.includes("event-stream")) return;
          let end = text.indexOf("\n\n");
          while (end >= 0) {
            const event = text.slice(0, end);
            text = text.slice(end + 2);
            end = text.indexOf("\n\n");
            if (holdAt !== undefined && events >= holdAt) continue;
            const data = event.startsWith("data: ") ? event.slice(6) : event;
            const out = data === "[DONE]" ? data : JSON.stringify(rewrite(JSON.parse(data)));
            res.write(`data: ${out}\n\n`);
            events++;
            if (holdAt !== undefined && events === holdAt) onHeld?.();
          }
        });
        answer.on("end", () => {
          if (holdAt !== undefined && events >= holdAt) return; // held: the client waits for the cut
          if (!type.includes("event-stream")) {
            let out = text;
            try {
              out = JSON.stringify(rewrite(JSON.parse(text)));
            } catch {}
            res.end(out);
          } else res.end();
        });
        answer.on("error", () => res.destroy());
      },
    );
    upstream.on("error", () => res.destroy());
    upstream.end(body);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", () => relay(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    holdAfter(events) {
      holdAt = events;
      heldPromise = new Promise((resolve) => {
        onHeld = resolve;
      });
    },
    held: () => heldPromise,
    cut() {
      for (const res of open) res.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
