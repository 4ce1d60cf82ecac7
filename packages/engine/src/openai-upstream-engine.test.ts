/**
 * The upstream engine against a real Verity provider on loopback (llama.cpp on `verity-tiny`,
 * operator key), compared with a local llama.cpp engine on the same model; plus a minimal generic
 * OpenAI-compatible server for what a provider cannot be made to do (HTTP 500, no tokenizer, no
 * prompt_logprobs).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { type BaseError, ConfigError, RequestError } from "@verity/core";
import { startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import type { Engine, GenerateChunk, GenerateRequest } from "./engine.ts";
import { createOpenAIUpstreamEngine, type OpenAIUpstreamEngine } from "./openai-upstream-engine.ts";
import { createTestEngine } from "./test-engine.ts";

let provider: TestProvider;
let local: Engine;
let upstream: OpenAIUpstreamEngine;

before(async () => {
  provider = await startTestProvider();
  local = await createTestEngine({ name: "verity-tiny" });
  upstream = await createOpenAIUpstreamEngine({
    baseUrl: `${provider.url}/v1`,
    model: "verity-tiny",
    apiKey: provider.operatorKey,
  });
});

after(async () => {
  await upstream?.close();
  await local?.close();
  await provider?.close();
});

const chat = { messages: [{ role: "user" as const, content: "Tell me a story about the sea." }] };

function hasCode(error: unknown, kind: typeof ConfigError | typeof RequestError, code: string): boolean {
  assert.ok(error instanceof kind, `expected ${kind.name}, got ${String(error)}`);
  assert.equal((error as BaseError).code, code, (error as BaseError).message);
  return true;
}

async function collect(request: GenerateRequest, engine: Engine = upstream) {
  const chunks: GenerateChunk[] = [];
  const result = await engine.generate({ ...request, onChunk: (chunk) => void chunks.push(chunk) });
  assert.equal(chunks.map((c) => c.text).join(""), result.text, "chunks concatenate to the text");
  assert.deepEqual(
    chunks.flatMap((c) => c.tokens),
    result.outputTokens,
    "chunks concatenate to the tokens",
  );
  return { result, chunks };
}

test("connects, reads the context size from /v1/models and finds the tokenizer endpoints", () => {
  assert.equal(upstream.name, "verity-tiny");
  assert.equal(upstream.baseUrl, provider.url);
  assert.equal(upstream.contextSize, local.contextSize);
  assert.deepEqual(upstream.tokenizer, { tokenize: true, detokenize: true, textPrefix: [] });
  const label = `0x${createHash("sha256").update(`upstream:${provider.url}verity-tiny`).digest("hex")}`;
  assert.deepEqual(upstream.identity, { weightsHash: label, tokenizerHash: label });
});

test("chat at temperature 0 equals the local llama.cpp engine, streamed or not", async () => {
  const request = { prompt: chat, sampling: { temperature: 0, maxTokens: 40 } };
  const expected = await local.generate(request);
  const { result: streamed, chunks } = await collect(request);
  assert.deepEqual(streamed, expected);
  assert.ok(chunks.length > 1, "text arrives in several chunks");
  assert.deepEqual(await upstream.generate(request), expected);
  assert.equal(expected.usage.promptTokens, expected.promptTokens.length);
  assert.equal(expected.usage.completionTokens, expected.outputTokens.length);
});

test("text prompts with seeded sampling, top-p and stop sequences equal the local engine", async () => {
  for (const sampling of [
    { temperature: 0, maxTokens: 10 },
    { temperature: 0.9, topP: 0.9, seed: 7, maxTokens: 48 },
    { temperature: 1, seed: 3, maxTokens: 64, stop: ["pro", "e "] },
  ]) {
    const request = { prompt: { text: "Once upon a time" }, sampling };
    const expected = await local.generate(request);
    const { result } = await collect(request);
    assert.deepEqual(result, expected, JSON.stringify(sampling));
  }
});

test("aborting stops the upstream request and finishes with abort", async () => {
  const request = { prompt: chat, sampling: { temperature: 1, seed: 11, maxTokens: 256 } };
  const full = await local.generate(request);
  const controller = new AbortController();
  let seen = 0;
  const started = performance.now();
  const result = await upstream.generate({
    ...request,
    signal: controller.signal,
    onChunk: () => {
      if (++seen === 3) controller.abort();
    },
  });
  assert.equal(result.finishReason, "abort");
  assert.ok(full.text.startsWith(result.text) && result.text.length < full.text.length, "stopped early");
  assert.ok(performance.now() - started < 10_000);

  const aborted = await upstream.generate({ ...request, signal: AbortSignal.abort() });
  assert.equal(aborted.finishReason, "abort");
  assert.equal(aborted.text, "");
});

test("rescore over HTTP matches local rescore (logprobs within 1e-4, ranks exactly)", async () => {
  const generated = await local.generate({ prompt: chat, sampling: { temperature: 1, seed: 5, maxTokens: 48 } });
  for (const topK of [0, 1, 5]) {
    const request = { promptTokens: generated.promptTokens, outputTokens: generated.outputTokens, topK };
    const [remote, expected] = [await upstream.rescore(request), await local.rescore(request)];
    assert.equal(remote.scores.length, expected.scores.length);
    for (const [i, score] of remote.scores.entries()) {
      const want = expected.scores[i]!;
      assert.equal(score.token, want.token);
      assert.equal(score.rank, want.rank, `rank at ${i}`);
      assert.ok(Math.abs(score.logprob - want.logprob) < 1e-4, `logprob at ${i}`);
      assert.ok(Math.abs(score.probability - want.probability) < 1e-4, `probability at ${i}`);
      assert.equal(score.top?.length, want.top?.length);
      for (const [j, alt] of (score.top ?? []).entries()) {
        assert.ok(Math.abs(alt.logprob - want.top![j]!.logprob) < 1e-4, `top ${j} at ${i}`);
      }
      assert.deepEqual(
        new Set(score.top?.map((t) => t.token)),
        new Set(want.top?.map((t) => t.token)),
        `top tokens at ${i}`,
      );
    }
  }
  assert.deepEqual(await upstream.rescore({ promptTokens: [1, 2], outputTokens: [] }), { scores: [] });
});

test("tokenizer: exact asynchronously, conservative synchronously", async () => {
  const text = "Hello, upstream — ünïcode";
  assert.deepEqual(await upstream.tokenizeAsync(text), local.tokenize(text));
  assert.equal(await upstream.detokenizeAsync(local.tokenize(text)), text);
  const bytes = Buffer.byteLength(text);
  assert.equal(upstream.tokenize(text).length, bytes);
  assert.ok(upstream.tokenize(text).length >= local.tokenize(text).length);
  assert.ok(upstream.renderChat(chat.messages).length >= local.renderChat(chat.messages).length);
  assert.throws(
    () => upstream.detokenize([1, 2]),
    (e) => hasCode(e, RequestError, "upstream_unsupported"),
  );
});

test("upstream request errors keep their meaning", async () => {
  // The provider's own limit (maxOutputTokens 256) comes back with its code.
  await assert.rejects(upstream.generate({ prompt: chat, sampling: { temperature: 0, maxTokens: 1000 } }), (e) =>
    hasCode(e, RequestError, "max_tokens_over_offer"),
  );
  // Without the operator key the provider wants a voucher: an upstream error that names the status.
  const unpaid = await createOpenAIUpstreamEngine({ baseUrl: provider.url, model: "verity-tiny" });
  await assert.rejects(unpaid.generate({ prompt: chat, sampling: { maxTokens: 4 } }), (e) => {
    hasCode(e, RequestError, "upstream_error");
    assert.equal((e as RequestError).details.status, 402);
    return true;
  });
});

test("unknown model and unreachable upstream fail at creation with a hint", async () => {
  await assert.rejects(createOpenAIUpstreamEngine({ baseUrl: provider.url, model: "gpt-17" }), (e) => {
    hasCode(e, ConfigError, "unknown_model");
    assert.match((e as ConfigError).hint ?? "", /verity-tiny/);
    return true;
  });
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  await assert.rejects(createOpenAIUpstreamEngine({ baseUrl: `http://127.0.0.1:${port}`, model: "m" }), (e) =>
    hasCode(e, ConfigError, "upstream_unreachable"),
  );
  await assert.rejects(createOpenAIUpstreamEngine({ baseUrl: "not a url", model: "m" }), (e) =>
    hasCode(e, ConfigError, "invalid_parameter"),
  );
});

/** A generic OpenAI-compatible server: no tokenizer, chat answers 500, completions stream without ids. */
async function startGenericServer(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", () => {
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      };
      if (req.method === "GET" && req.url === "/v1/models") {
        return json(200, { object: "list", data: [{ id: "generic", object: "model", max_model_len: 1024 }] });
      }
      if (req.url === "/v1/chat/completions") return json(500, { error: { message: "CUDA out of memory" } });
      if (req.url === "/v1/completions") {
        const body = JSON.parse(raw) as { stream?: boolean };
        if (!body.stream) return json(200, { choices: [{ index: 0, text: "x", finish_reason: "length" }] });
        res.writeHead(200, { "content-type": "text/event-stream" });
        for (const text of ["Hello", " world"]) res.write(`data: ${JSON.stringify({ choices: [{ text }] })}\n\n`);
        res.write(`data: ${JSON.stringify({ choices: [{ text: "", finish_reason: "length" }] })}\n\n`);
        res.write(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 2 } })}\n\n`);
        return res.end("data: [DONE]\n\n");
      }
      json(404, { detail: "Not Found" });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

test("a generic upstream: 500 is upstream_error, no tokenizer, rescoring unsupported", async () => {
  const { url, server } = await startGenericServer();
  try {
    const engine = await createOpenAIUpstreamEngine({ baseUrl: url, model: "generic" });
    assert.equal(engine.contextSize, 1024);
    assert.deepEqual(engine.tokenizer, { tokenize: false, detokenize: false, textPrefix: [] });
    assert.equal(await engine.tokenizeAsync("hi"), undefined);
    await assert.rejects(engine.generate({ prompt: chat, sampling: { maxTokens: 4 } }), (e) => {
      hasCode(e, RequestError, "upstream_error");
      assert.match((e as RequestError).message, /500.*CUDA out of memory/);
      return true;
    });
    const chunks: string[] = [];
    const result = await engine.generate({
      prompt: { text: "Hi" },
      sampling: { maxTokens: 2 },
      onChunk: (c) => void chunks.push(c.text),
    });
    assert.deepEqual(chunks, ["Hello", " world"]);
    assert.deepEqual(result, {
      promptTokens: [],
      outputTokens: [],
      text: "Hello world",
      finishReason: "length",
      usage: { promptTokens: 3, completionTokens: 2 },
    });
    await assert.rejects(engine.rescore({ promptTokens: [1], outputTokens: [2] }), (e) =>
      hasCode(e, RequestError, "upstream_unsupported"),
    );
    const stated = { weightsHash: `0x${"11".repeat(32)}`, tokenizerHash: `0x${"22".repeat(32)}` } as const;
    const named = await createOpenAIUpstreamEngine({ baseUrl: url, model: "generic", identity: stated });
    assert.deepEqual(named.identity, stated);
    await named.close();
    await engine.close();
    await assert.rejects(engine.generate({ prompt: chat, sampling: { maxTokens: 1 } }), (e) =>
      hasCode(e, ConfigError, "internal_error"),
    );
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
