/**
 * Verdict thresholds and the calibration file they are loaded from
 * (packages/validator/calibration.json, written by `node packages/validator/src/calibrate-main.ts`).
 */
import { readFileSync } from "node:fs";
import { z } from "zod";

export const greedyThresholdsSchema = z
  .object({
    /** A non-rank-1 token whose raw logprob is within this many nats of the top one is a numeric tie, not a flip. */
    tieMargin: z.number().nonnegative(),
    /** Fail on more flips (non-rank-1 tokens beyond the tie margin) than this. */
    maxFlips: z.number().int().nonnegative(),
    /** Fail when the share of non-rank-1 tokens (ties included) exceeds this. */
    maxNonTop1Share: z.number().min(0).max(1),
    /** Fail on any token ranked at or below this (Targon: 75). */
    maxRank: z.number().int().min(2),
    /** Fail on this many tokens ranked ≥ 25 or more (Targon: 5). */
    maxLowRankTokens: z.number().int().nonnegative(),
  })
  .strict();

export const sampledThresholdsSchema = z
  .object({
    /** A token outside the nucleus by less than this much probability mass counts as inside (numerics). */
    nucleusTolerance: z.number().nonnegative(),
    /** Fail on more tokens outside the top-p nucleus than this. */
    maxOutsideNucleus: z.number().int().nonnegative(),
    /** Fail on any token whose log-probability under the sampling distribution is below this. */
    minTokenLogprob: z.number(),
    /** Fail on more tokens with sampling probability below 1e-3 than this. */
    maxLowProbTokens: z.number().int().nonnegative(),
    /** Log-likelihood z statistic Σ(log q − E[log q]) / √ΣVar: fail outside [zMin, zMax]. */
    zMin: z.number(),
    zMax: z.number(),
    /** Fail when the mean agreement (1 − sampling mass ranked above the claimed token) is below this. */
    minMeanAgreement: z.number().min(0).max(1),
  })
  .strict();

export const seededThresholdsSchema = z
  .object({
    /**
     * A seed-synced token whose DiFR margin (logit units) is at or below this is numerical noise
     * (batched prefill against one-token decoding); above it, a flip.
     */
    marginTolerance: z.number().nonnegative(),
    /** Fail (`seeded_token_mismatch`) on more flips than this. */
    maxFlips: z.number().int().nonnegative(),
  })
  .strict();

export const thresholdsSchema = z
  .object({
    greedy: greedyThresholdsSchema,
    sampled: sampledThresholdsSchema,
    /** Absent in calibrations older than seed-synced sampling: the fallback applies. */
    seeded: seededThresholdsSchema.default({ marginTolerance: 0.05, maxFlips: 0 }),
    /** Fail when an output ends with a control (end-of-generation) token less likely than this under the sampling distribution. */
    minEosLogprob: z.number(),
    /** Fail when the likelihood ratio against a suspect substitute is below this (−ln(1/α) bounds honest failures by α). */
    minSuspectLlr: z.number(),
  })
  .strict();

export type Thresholds = z.infer<typeof thresholdsSchema>;

const rateSchema = z.object({
  n: z.number().int(),
  failures: z.number().int(),
  rate: z.number(),
  ci95: z.tuple([z.number(), z.number()]),
  /** One-sided 95 % upper bound of the rate. */
  upper95: z.number().optional(),
});

export const calibrationFileSchema = z.object({
  version: z.literal(1),
  referenceModel: z.string(),
  createdAt: z.string(),
  mode: z.enum(["full", "quick"]),
  thresholds: thresholdsSchema,
  /** Per token budget: false positives on honest transcripts and detection per substitute kind. */
  rates: z.record(z.string(), z.record(z.string(), rateSchema)),
  corpus: z.record(z.string(), z.unknown()),
  timing: z.record(z.string(), z.number()),
  notes: z.array(z.string()),
});

export type CalibrationFile = z.infer<typeof calibrationFileSchema>;
export type Rate = z.infer<typeof rateSchema>;

export const CALIBRATION_PATH = new URL("../calibration.json", import.meta.url);

/** Thresholds used when a calibration file is missing (conservative, in the Targon spirit). */
export const FALLBACK_THRESHOLDS: Thresholds = {
  greedy: { tieMargin: 0.05, maxFlips: 0, maxNonTop1Share: 0.1, maxRank: 75, maxLowRankTokens: 4 },
  sampled: {
    nucleusTolerance: 0.02,
    maxOutsideNucleus: 0,
    minTokenLogprob: -20,
    maxLowProbTokens: 3,
    zMin: -4.5,
    zMax: 4.5,
    minMeanAgreement: 0.3,
  },
  seeded: { marginTolerance: 0.05, maxFlips: 0 },
  minEosLogprob: Math.log(1e-4),
  minSuspectLlr: Math.log(1e-4),
};

export function loadCalibration(path: URL | string = CALIBRATION_PATH): CalibrationFile {
  return calibrationFileSchema.parse(JSON.parse(readFileSync(path, "utf8")));
}

let cached: Thresholds | undefined;

/** The committed calibration's thresholds (read once), or the fallback when the file is absent. */
export function defaultThresholds(): Thresholds {
  if (cached) return cached;
  try {
    cached = loadCalibration().thresholds;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    cached = FALLBACK_THRESHOLDS;
  }
  return cached;
}
