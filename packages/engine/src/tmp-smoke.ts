import { startTestProvider } from "../../provider/src/testing.ts";
import { createOpenAIUpstreamEngine } from "./openai-upstream-engine.ts";
import { createTestEngine } from "./test-engine.ts";
let t0 = performance.now();
const tp = await startTestProvider();
console.log("started", performance.now() - t0, tp.url);
try {
  const engine = await createOpenAIUpstreamEngine({ baseUrl: tp.url, model: "verity-tiny", apiKey: tp.operatorKey });
  console.log(engine.name, engine.contextSize, engine.vocabSize, engine.tokenizer);
  const local = await createTestEngine({ name: "verity-tiny" });
  const req = { prompt: { messages: [{ role: "user" as const, content: "Tell me a story about the sea." }] }, sampling: { temperature: 0, maxTokens: 40 } };
  const chunks: unknown[] = [];
  const a = await engine.generate({ ...req, onChunk: (c) => { chunks.push(c); } });
  const b = await local.generate(req);
  console.log(JSON.stringify(a)); console.log(JSON.stringify(b)); console.log(chunks.length, JSON.stringify(chunks.slice(-2)));
  const r1 = await engine.rescore({ promptTokens: b.promptTokens, outputTokens: b.outputTokens, topK: 3 });
  const r2 = await local.rescore({ promptTokens: b.promptTokens, outputTokens: b.outputTokens, topK: 3 });
  console.log(JSON.stringify(r1.scores.slice(0, 2))); console.log(JSON.stringify(r2.scores.slice(0, 2)));
  const t = await engine.generate({ prompt: { text: "Once upon a time" }, sampling: { temperature: 0, maxTokens: 10 } });
  const u = await local.generate({ prompt: { text: "Once upon a time" }, sampling: { temperature: 0, maxTokens: 10 } });
  console.log(JSON.stringify(t)); console.log(JSON.stringify(u));
  console.log(await engine.renderChatAsync(req.prompt.messages), await engine.tokenizeAsync("hello"), local.tokenize("hello"));
  await local.close();
} finally { await tp.close(); }
