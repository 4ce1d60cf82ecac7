/**
 * Dishonest-provider mode for devnets and simulations: on a fraction `rate` of paid requests the
 * provider generates with another (cheaper) engine while it still charges and signs receipts for the
 * model it offers — what a cheater does, and what audits exist to catch and disputes to slash.
 */
import { ConfigError, hashTokens } from "@verity/core";
import type { Engine } from "@verity/engine";

export type SubstituteOptions = {
  /** The engine that really generates on substituted requests; it must share the offered model's tokenizer. */
  engine: Engine;
  /** Fraction of paid requests served by `engine`, in [0, 1]. */
  rate: number;
};

/** One answer the substitute generated, by the hashes its receipt commits to (`promptHash`, `outputHash`). */
export type SubstitutedAnswer = { promptHash: `0x${string}`; outputHash: `0x${string}` };

export type Substitution = {
  /** The substitute engine; every answer it generates is remembered (see `answers`). */
  readonly engine: Engine;
  readonly rate: number;
  /** Draws for one request: whether it is served by the substitute. */
  pick(): boolean;
  /** Substituted requests that completed (charged and receipted). */
  readonly count: number;
  /** Records one completed substituted request. */
  record(): void;
  /**
   * Ground truth for simulations: every answer the substitute generated, oldest first (including
   * ones whose request was later aborted and never receipted).
   */
  answers(): readonly SubstitutedAnswer[];
  /** Whether the substitute generated the answer a receipt with these hashes commits to. */
  generated(answer: SubstitutedAnswer): boolean;
};

/** Checks a substitution rate: a finite number in [0, 1], else `invalid_parameter`. */
export function validateSubstituteRate(rate: number): number {
  if (typeof rate !== "number" || !Number.isFinite(rate) || rate < 0 || rate > 1) {
    throw new ConfigError(`The substitution rate ${String(rate)} is not between 0 and 1`, {
      code: "invalid_parameter",
      hint: "Pass a fraction of requests in [0, 1], e.g. 0.25",
    });
  }
  return rate;
}

/**
 * Binds a substitute engine to the model it stands in for. The substitute must share the offered
 * model's tokenizer (same `tokenizerHash`): prompts are counted and rendered with the offered engine.
 * `random` returns a uniform draw in [0, 1) (default `Math.random`; simulations may pass a seeded one).
 */
export function createSubstitution(options: {
  offered: Engine;
  substitute: SubstituteOptions;
  random?: () => number;
}): Substitution {
  const rate = validateSubstituteRate(options.substitute.rate);
  const { engine } = options.substitute;
  if (engine.identity.tokenizerHash !== options.offered.identity.tokenizerHash) {
    throw new ConfigError(`The substitute ${engine.name} does not share the tokenizer of ${options.offered.name}`, {
      code: "invalid_parameter",
      hint: "Substitute a model with the same tokenizer (e.g. a quantised copy)",
      details: { offered: options.offered.identity.tokenizerHash, substitute: engine.identity.tokenizerHash },
    });
  }
  const random = options.random ?? Math.random;
  let count = 0;
  const answers: SubstitutedAnswer[] = [];
  const keys = new Set<string>();
  const key = (a: SubstitutedAnswer) => `${a.promptHash}:${a.outputHash}`.toLowerCase();
  // The same engine, except that each generation is remembered by its receipt hashes.
  const remembering: Engine = Object.create(engine, {
    generate: {
      value: async (request: Parameters<Engine["generate"]>[0]) => {
        const result = await engine.generate(request);
        const answer = { promptHash: hashTokens(result.promptTokens), outputHash: hashTokens(result.outputTokens) };
        answers.push(answer);
        keys.add(key(answer));
        return result;
      },
    },
  });
  return {
    engine: remembering,
    rate,
    pick: () => rate > 0 && (rate >= 1 || random() < rate),
    get count() {
      return count;
    },
    record() {
      count++;
    },
    answers: () => [...answers],
    generated: (answer) => keys.has(key(answer)),
  };
}
