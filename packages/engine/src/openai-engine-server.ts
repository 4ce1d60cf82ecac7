/**
 * A plain OpenAI-compatible HTTP server over one engine (llama.cpp): what vLLM or Ollama are to a
 * provider started with `--upstream`, built from the project's own engine so tests and benches run
 * a real, separate inference server. No payment, no receipts.
 *
 * Routes: `GET /v1/models` (with `verity.{weightsHash, tokenizerHash, contextSize}`),
 * `POST /v1/chat/completions` and `/v1/completions` (streamed with `stream_options.include_usage`
 * or not; `usage` plus `verity.{promptTokenIds, outputTokenIds}`), llama.cpp-style `/tokenize`
 * and `/detokenize`, `GET /health`. A client that disconnects aborts its generation.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { chatMessageSchema, type Engine, type GenerateResult, type Prompt } from "./engine.ts";

export type OpenAIEngineServer = { url: string; server: Server; close(): Promise<void> };

const completionSchema = z.looseObject({
  model: z.string(),
  messages: z.array(chatMessageSchema).min(1).optional(),
  prompt: z.string().optional(),
  max_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  seed: z.number().int().nonnegative().nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  stream: z.boolean().nullish(),
});

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve) => {
    let raw = "";
    req.on("data", (d: Buffer) => {
      raw += d.toString("utf8");
    });
    req.on("end", () => {
      try {
        resolve(raw.length === 0 ? {} : JSON.parse(raw));
      } catch {
        resolve(undefined);
      }
    });
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

function usageOf(result: GenerateResult) {
  const { promptTokens, completionTokens } = result.usage;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

/** Serves `engine` under the model id `engine.name` on `host:port` (port 0 = any free port). */
export async function startOpenAIEngineServer(options: {
  engine: Engine;
  host?: string;
  port?: number;
}): Promise<OpenAIEngineServer> {
  const { engine } = options;
  const created = Math.floor(Date.now() / 1000);

  async function complete(req: IncomingMessage, res: ServerResponse, kind: "chat" | "text"): Promise<void> {
    const parsed = completionSchema.safeParse(await readBody(req));
    if (!parsed.success) return sendJson(res, 400, { error: { message: "Invalid request", type: "invalid_request" } });
    const body = parsed.data;
    if (body.model !== engine.name) {
      return sendJson(res, 404, { error: { message: `The model ${body.model} does not exist`, type: "not_found" } });
    }
    let prompt: Prompt;
    if (kind === "chat" && body.messages) prompt = { messages: body.messages };
    else if (kind === "text" && body.prompt !== undefined) prompt = { text: body.prompt };
    else
      return sendJson(res, 400, {
        error: { message: "Send messages (chat) or prompt (text)", type: "invalid_request" },
      });
    const controller = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) controller.abort();
    });
    const sampling = {
      maxTokens: body.max_tokens ?? 16,
      temperature: body.temperature ?? 1,
      topP: body.top_p ?? 1,
      ...(body.seed == null ? {} : { seed: body.seed }),
      stop: body.stop == null ? [] : typeof body.stop === "string" ? [body.stop] : body.stop,
    };
    const id = `${kind === "chat" ? "chatcmpl" : "cmpl"}-${Date.now().toString(36)}`;
    const object = kind === "chat" ? "chat.completion" : "text_completion";
    const finish = (r: string) => (r === "length" ? "length" : "stop");
    if (!body.stream) {
      const result = await engine.generate({ prompt, sampling, signal: controller.signal });
      const choice =
        kind === "chat"
          ? {
              index: 0,
              message: { role: "assistant", content: result.text },
              finish_reason: finish(result.finishReason),
            }
          : { index: 0, text: result.text, finish_reason: finish(result.finishReason) };
      return sendJson(res, 200, {
        id,
        object,
        created,
        model: engine.name,
        choices: [choice],
        usage: usageOf(result),
        verity: { promptTokenIds: result.promptTokens, outputTokenIds: result.outputTokens },
      });
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const chunkObject = kind === "chat" ? "chat.completion.chunk" : "text_completion";
    const send = (payload: Record<string, unknown>) =>
      new Promise<void>((resolve) => {
        if (res.destroyed) return resolve();
        res.write(
          `data: ${JSON.stringify({ id, object: chunkObject, created, model: engine.name, ...payload })}\n\n`,
          () => resolve(),
        );
      });
    const choice = (text: string, finishReason: string | null) =>
      kind === "chat"
        ? { index: 0, delta: text.length > 0 ? { content: text } : {}, finish_reason: finishReason }
        : { index: 0, text, finish_reason: finishReason };
    const result = await engine.generate({
      prompt,
      sampling,
      signal: controller.signal,
      onChunk: async (part) => {
        if (part.text.length > 0) await send({ choices: [choice(part.text, null)] });
      },
    });
    if (result.finishReason === "abort") return void res.end();
    await send({ choices: [choice("", finish(result.finishReason))] });
    await send({
      choices: [],
      usage: usageOf(result),
      verity: { promptTokenIds: result.promptTokens, outputTokenIds: result.outputTokens },
    });
    res.end("data: [DONE]\n\n");
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/health") return sendJson(res, 200, { status: "ok" });
    if (req.method === "GET" && path === "/v1/models") {
      return sendJson(res, 200, {
        object: "list",
        data: [
          {
            id: engine.name,
            object: "model",
            created,
            owned_by: "verity-engine",
            verity: { ...engine.identity, contextSize: engine.contextSize },
          },
        ],
      });
    }
    if (req.method === "POST" && path === "/v1/chat/completions") return complete(req, res, "chat");
    if (req.method === "POST" && path === "/v1/completions") return complete(req, res, "text");
    if (req.method === "POST" && path === "/tokenize") {
      const body = (await readBody(req)) as { content?: unknown } | undefined;
      if (typeof body?.content !== "string") return sendJson(res, 400, { error: { message: "Send {content}" } });
      return sendJson(res, 200, { tokens: engine.tokenize(body.content) });
    }
    if (req.method === "POST" && path === "/detokenize") {
      const body = (await readBody(req)) as { tokens?: unknown } | undefined;
      const tokens = body?.tokens;
      if (!Array.isArray(tokens) || !tokens.every((t) => Number.isInteger(t) && t >= 0 && t < engine.vocabSize)) {
        return sendJson(res, 400, { error: { message: "Send {tokens: number[]}" } });
      }
      return sendJson(res, 200, { content: engine.detokenize(tokens as number[]) });
    }
    sendJson(res, 404, { error: { message: `No route ${req.method} ${path}`, type: "not_found" } });
  }

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      sendJson(res, 500, { error: { message: error instanceof Error ? error.message : String(error) } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.address}:${address.port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
