/**
 * Audit compute on the test model: validator work per audited response (one teacher-forced
 * rescore + statistics, `auditTranscript`, with the seeded DiFR replay since requests are
 * seed-synced) against the provider's work (seed-synced generation), and at the default audit rate
 * p = 0.02 as a fraction of all provider compute. Also the seeded sampler's own cost per generated
 * token. One JSON line per figure.
 *   node bench/audit-cost.ts [--responses 40] [--p 0.02]
 * Baseline of the fractions: the 1 % audit-compute target.
 */
import { parseArgs } from "node:util";
import { createTestEngine } from "@verity/engine";
import { noiseKey, seededSample } from "../packages/engine/src/seeded-sampler.ts";
import { auditTranscript } from "../packages/validator/src/audit-verdict.ts";
import { makePrompt } from "../packages/validator/src/calibrate.ts";

const { values } = parseArgs({
  options: { responses: { type: "string", default: "40" }, p: { type: "string", default: "0.02" } },
});
const responses = Number(values.responses);
const p = Number(values.p);
const TARGET = 0.01;
const round = (x: number, digits = 4) => Math.round(x * 10 ** digits) / 10 ** digits;

function line(
  metric: string,
  value: number,
  unit: string,
  baseline: number | null,
  extra: Record<string, unknown> = {},
) {
  console.log(
    JSON.stringify({
      bench: "audit-cost",
      metric,
      value: round(value, 5),
      unit,
      baseline,
      ratio: baseline ? round(value / baseline) : null,
      model: "verity-tiny",
      ...extra,
    }),
  );
}

const provider = await createTestEngine({ name: "verity-tiny" });
const validator = await createTestEngine({ name: "verity-tiny" });
const suspect = await createTestEngine({ name: "verity-tiny-q4" });
try {
  const warm = await provider.generate({ prompt: { text: "warm up" }, sampling: { maxTokens: 8 } });
  await validator.rescore({ promptTokens: warm.promptTokens, outputTokens: warm.outputTokens });
  let generateMs = 0;
  let auditMs = 0;
  let bareMs = 0;
  let suspectMs = 0;
  let tokens = 0;
  for (let i = 0; i < responses; i++) {
    const sampling = {
      temperature: i % 3 === 0 ? 0 : 1,
      topP: 1,
      seed: i + 1,
      seedKey: `0x${(i + 1).toString(16).padStart(64, "0")}` as `0x${string}`,
      maxTokens: 300,
      stop: [] as string[],
    };
    const started = performance.now();
    const result = await provider.generate({
      prompt: { messages: [{ role: "user", content: makePrompt(i) }] },
      sampling,
    });
    generateMs += performance.now() - started;
    tokens += result.outputTokens.length;
    const auditStarted = performance.now();
    await auditTranscript({
      engine: validator,
      transcript: { promptTokens: result.promptTokens, outputTokens: result.outputTokens, sampling },
    });
    auditMs += performance.now() - auditStarted;
    const bareStarted = performance.now();
    await validator.rescore({ promptTokens: result.promptTokens, outputTokens: result.outputTokens });
    bareMs += performance.now() - bareStarted;
    const suspectStarted = performance.now();
    await auditTranscript({
      engine: validator,
      transcript: { promptTokens: result.promptTokens, outputTokens: result.outputTokens, sampling },
      suspects: [suspect],
    });
    suspectMs += performance.now() - suspectStarted;
  }
  const perAudit = auditMs / generateMs;
  line("generate_ms_per_response", generateMs / responses, "ms", null, {
    meanOutputTokens: round(tokens / responses, 1),
  });
  line("audit_ms_per_response", auditMs / responses, "ms", null);
  line("audit_compute_per_audited_response", perAudit, "fraction", 1);
  line("audit_compute_share_of_provider_compute", p * perAudit, "fraction", TARGET, { auditRate: p });
  // Where the cost goes: a bare prefill (no top-K distribution), and the verdict with the q4 suspect test.
  line("bare_rescore_per_audited_response", bareMs / generateMs, "fraction", 1);
  line("audit_with_suspect_per_audited_response", suspectMs / generateMs, "fraction", 1);
  line("audit_with_suspect_share_of_provider_compute", (p * suspectMs) / generateMs, "fraction", TARGET, {
    auditRate: p,
  });
  // The sampler alone per token, on a 512-token vocabulary (the test models) and a 151,936-token one
  // (Qwen-sized; llama.cpp hands over its 1,024 highest logits, so the JS side sees at most that many).
  for (const vocab of [512, 151_936]) {
    const candidates = Array.from({ length: Math.min(vocab, 1024) }, (_, t) => [t, 12 - Math.log1p(t) * 2.5] as const);
    const steps = 2000;
    const seedKey: `0x${string}` = `0x${"ab".repeat(32)}`;
    const started = performance.now();
    for (let t = 0; t < steps; t++) {
      seededSample({
        sampling: { seedKey, temperature: 1, topP: 1 },
        position: t,
        candidates,
        key: noiseKey(seedKey, t),
      });
    }
    line("seeded_sampler_us_per_token", ((performance.now() - started) * 1000) / steps, "us", null, {
      vocabulary: vocab,
      candidates: candidates.length,
    });
  }
} finally {
  await provider.close();
  await validator.close();
  await suspect.close();
}
