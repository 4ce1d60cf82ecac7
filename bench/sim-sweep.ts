/**
 * Verdict sweep for the deterrence simulation: re-audits stored client transcripts with the
 * validator's own intake verdict (`auditSample`, default calibrated thresholds) on a fresh engine of
 * the claimed model, outside the chain. A live devnet pauses a cheater after its first guilty
 * verdict, so only a handful of its substituted answers are ever sampled; the sweep audits all of
 * them (and a share of the honest ones) to measure the per-audit verdict on a larger sample.
 */
import type { Deployment } from "@verity/core";
import { type Engine, loadModelSpec } from "@verity/engine";
import type { AuditSample, Transcript } from "@verity/sdk";
import { auditSample } from "../packages/validator/src/intake.ts";

/** The sample a client would post for `t` (what the SDK's audit queue sends). */
export function sampleOf(t: Transcript, deployment: Deployment): AuditSample {
  return {
    version: 1,
    chainId: deployment.chainId,
    paymentChannels: deployment.contracts.PaymentChannels.address,
    agentId: t.agentId.toString(),
    channelId: t.channelId,
    modelId: t.modelId.toString(),
    model: t.model,
    kind: t.kind,
    request: t.request,
    output: t.output,
    promptTokenIds: t.promptTokenIds,
    outputTokenIds: t.outputTokenIds,
    ...(t.sampling ? { sampling: t.sampling } : {}),
    receipt: t.receipt,
  };
}

export type SweepResult = { requestId: string; pass: boolean; passWithSuspect: boolean | null; reasons: string[] };

/**
 * Audits each transcript with `modelSpec`'s engine; with `suspectSpec`, also with that engine as a
 * known suspect (the likelihood-ratio test a validator runs against the model's 4-bit copy).
 */
export async function sweepVerdicts(args: {
  transcripts: readonly Transcript[];
  deployment: Deployment;
  modelSpec: string;
  suspectSpec?: string;
  onProgress?: (done: number) => void;
}): Promise<SweepResult[]> {
  const engines: Engine[] = [];
  try {
    const engine = await loadModelSpec({ spec: args.modelSpec });
    engines.push(engine);
    const suspect = args.suspectSpec ? await loadModelSpec({ spec: args.suspectSpec }) : undefined;
    if (suspect) engines.push(suspect);
    const out: SweepResult[] = [];
    for (const t of args.transcripts) {
      const sample = sampleOf(t, args.deployment);
      const plain = await auditSample({ engine, sample });
      const withSuspect = suspect ? await auditSample({ engine, sample, suspects: [suspect] }) : undefined;
      out.push({
        requestId: t.requestId.toLowerCase(),
        pass: plain.pass,
        passWithSuspect: withSuspect ? withSuspect.pass : null,
        reasons: plain.reasons,
      });
      if (out.length % 50 === 0) args.onProgress?.(out.length);
    }
    return out;
  } finally {
    for (const e of engines) await e.close();
  }
}

/**
 * Generation cost of the claimed model against the substitute on the same prompts (greedy, fixed
 * seeds), in milliseconds per output token: the compute a cheater saves per substituted token.
 */
export async function generationCost(args: {
  modelSpec: string;
  substituteSpec: string;
  prompts: readonly string[];
  maxTokens: number;
}): Promise<{ msPerTokenModel: number; msPerTokenSubstitute: number }> {
  const model = await loadModelSpec({ spec: args.modelSpec });
  const substitute = await loadModelSpec({ spec: args.substituteSpec });
  try {
    const time = async (engine: Engine) => {
      let ms = 0;
      let tokens = 0;
      for (const [i, text] of args.prompts.entries()) {
        const started = performance.now();
        const result = await engine.generate({
          prompt: { messages: [{ role: "user", content: text }] },
          sampling: { temperature: 1, topP: 1, seed: i + 1, maxTokens: args.maxTokens, stop: [] },
        });
        ms += performance.now() - started;
        tokens += result.outputTokens.length;
      }
      return ms / Math.max(1, tokens);
    };
    await time(model); // warm both once
    await time(substitute);
    return { msPerTokenModel: await time(model), msPerTokenSubstitute: await time(substitute) };
  } finally {
    await model.close();
    await substitute.close();
  }
}
