/**
 * Engine throughput on the generated test models: one JSON line per figure on stdout.
 *   node bench/engine.ts [--model verity-tiny] [--tokens 2000]
 * `generate`: sampled tokens per second (single-token decode, prompt prefill included).
 * `rescore`: tokens per second of one teacher-forced evaluation (prompt + output).
 */
import { parseArgs } from "node:util";
import { createTestEngine } from "@verity/engine";

const { values } = parseArgs({
  options: { model: { type: "string", default: "verity-tiny" }, tokens: { type: "string", default: "2000" } },
});
const model = values.model;
const target = Number(values.tokens);
const engine = await createTestEngine({ name: model });

function line(phase: string, value: number): void {
  const figure = { bench: "engine", metric: "tokens_per_second", phase, value: Math.round(value * 10) / 10 };
  console.log(JSON.stringify({ ...figure, unit: "tok/s", baseline: null, ratio: null, model }));
}

try {
  const prompt = { messages: [{ role: "user" as const, content: "Tell me a story about the sea." }] };
  await engine.generate({ prompt, sampling: { temperature: 0, maxTokens: 16 } }); // warm-up

  let generated = 0;
  let generateMs = 0;
  const outputs: { promptTokens: number[]; outputTokens: number[] }[] = [];
  for (let seed = 1; generated < target; seed++) {
    const started = performance.now();
    const result = await engine.generate({ prompt, sampling: { temperature: 1, seed, maxTokens: 256 } });
    generateMs += performance.now() - started;
    generated += result.outputTokens.length;
    outputs.push(result);
  }
  line("generate", (generated / generateMs) * 1000);

  let evaluated = 0;
  let rescoreMs = 0;
  for (const output of outputs) {
    const started = performance.now();
    await engine.rescore(output);
    rescoreMs += performance.now() - started;
    evaluated += output.promptTokens.length + output.outputTokens.length - 1;
  }
  line("rescore", (evaluated / rescoreMs) * 1000);
} finally {
  await engine.close();
}
