import assert from "node:assert/strict";
import { test } from "node:test";
import { createPrng } from "./prng.ts";
import { type PositionLogits, RANK_LIMIT, scoreToken } from "./token-scores.ts";

/** What llama.cpp reports for a position, computed from a full logit vector. */
function report(logits: number[], token: number, topCount: number): PositionLogits {
  const sorted = logits.map((l, t) => [t, l] as const).sort((a, b) => b[1] - a[1]);
  const max = sorted[0]![1];
  return {
    logit: logits[token]!,
    top: sorted.slice(0, topCount),
    totalLogitWeight: logits.reduce((sum, l) => sum + Math.exp(l - max), 0),
  };
}

/** The exact answer from the full vector. */
function reference(logits: number[], token: number) {
  const max = Math.max(...logits);
  const logZ = max + Math.log(logits.reduce((sum, l) => sum + Math.exp(l - max), 0));
  return { logprob: logits[token]! - logZ, rank: 1 + logits.filter((l) => l > logits[token]!).length };
}

test("log-probability is the log-softmax of the token's logit; rank counts strictly better tokens", () => {
  const logits = [1, 3, 2, 3];
  for (let token = 0; token < logits.length; token++) {
    const score = scoreToken({ token, position: report(logits, token, RANK_LIMIT) });
    const exact = reference(logits, token);
    assert.ok(Math.abs(score.logprob - exact.logprob) < 1e-12);
    assert.ok(Math.abs(score.probability - Math.exp(exact.logprob)) < 1e-12);
    assert.equal(score.rank, exact.rank);
  }
  assert.equal(scoreToken({ token: 3, position: report(logits, 3, RANK_LIMIT) }).rank, 1); // tie with token 1
});

test("ranks are exact up to the limit and capped below it, ties included", () => {
  const prng = createPrng({ seed: 11 });
  const logits = Array.from({ length: 600 }, () => Math.round(prng.nextSigned() * 40) / 4); // many ties
  for (let token = 0; token < logits.length; token++) {
    const score = scoreToken({ token, position: report(logits, token, RANK_LIMIT) });
    const exact = reference(logits, token);
    assert.ok(Math.abs(score.logprob - exact.logprob) < 1e-9);
    assert.equal(score.rank, exact.rank <= RANK_LIMIT ? exact.rank : RANK_LIMIT + 1, `token ${token}`);
  }
});

test("top-k alternatives come with their log-probabilities", () => {
  const logits = [0, 5, 1, 4];
  const score = scoreToken({ token: 0, position: report(logits, 0, RANK_LIMIT), topK: 2 });
  assert.deepEqual(
    score.top?.map((t) => t.token),
    [1, 3],
  );
  assert.ok(Math.abs(score.top![1]!.logprob - reference(logits, 3).logprob) < 1e-12);
});
