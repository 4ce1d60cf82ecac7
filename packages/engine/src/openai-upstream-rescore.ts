/**
 * Teacher forcing over HTTP with vLLM's `prompt_logprobs`: one `/v1/completions` request whose
 * prompt is the token ids `promptTokens ++ outputTokens`, with `max_tokens: 1` and
 * `prompt_logprobs: max(topK, 1)`. The answer's `choices[0].prompt_logprobs` has one entry per prompt
 * position, `null` for the first, else `{"<tokenId>": {logprob, rank, decoded_token}}` with the
 * scored token (and its rank) plus the top alternatives. vLLM and Verity providers (operator key)
 * support it; llama.cpp server, Ollama and OpenAI do not.
 *
 * vLLM reports the model's raw log-probabilities (no temperature, no top-p), as `rescore` specifies.
 */
import { RequestError } from "@verity/core";
import { z } from "zod";
import type { RescoreRequest, RescoreResult, TokenScore } from "./engine.ts";
import type { UpstreamHttp } from "./openai-upstream-http.ts";

const entrySchema = z.record(
  z.string().regex(/^\d+$/),
  z.looseObject({ logprob: z.number(), rank: z.number().int().min(1).nullish() }),
);

const responseSchema = z.looseObject({
  choices: z.array(z.looseObject({ prompt_logprobs: z.array(entrySchema.nullable()).nullish() })).min(1),
});

/** Rescoring takes one forward pass, but a long sequence on a busy upstream can take a while. */
const RESCORE_TIMEOUT_MS = 600_000;

function unsupported(detail: string): RequestError {
  return new RequestError(`The upstream cannot rescore: ${detail}`, {
    code: "upstream_unsupported",
    hint: "Rescoring needs vLLM-style prompt_logprobs on /v1/completions with token-id prompts (vLLM, or a Verity provider with its operator key)",
  });
}

export async function rescoreOverHttp(options: {
  http: UpstreamHttp;
  model: string;
  request: RescoreRequest;
}): Promise<RescoreResult> {
  const { promptTokens, outputTokens } = options.request;
  const topK = options.request.topK ?? 0;
  for (const [what, tokens] of [
    ["promptTokens", promptTokens],
    ["outputTokens", outputTokens],
  ] as const) {
    if (!tokens.every((t) => Number.isInteger(t) && t >= 0)) {
      throw new RequestError(`${what} must be non-negative integer token ids`, { code: "invalid_request" });
    }
  }
  if (promptTokens.length === 0) throw new RequestError("promptTokens is empty", { code: "invalid_request" });
  if (!Number.isInteger(topK) || topK < 0) {
    throw new RequestError("topK must be a non-negative integer", { code: "invalid_request" });
  }
  if (outputTokens.length === 0) return { scores: [] };

  const tokens = [...promptTokens, ...outputTokens];
  const body = await options.http.json("/v1/completions", {
    body: {
      model: options.model,
      prompt: tokens,
      max_tokens: 1,
      temperature: 0,
      prompt_logprobs: Math.max(topK, 1),
      stream: false,
    },
    timeoutMs: RESCORE_TIMEOUT_MS,
  });
  const parsed = responseSchema.safeParse(body);
  if (!parsed.success) throw unsupported("its completion has no valid choices[0].prompt_logprobs");
  const positions = parsed.data.choices[0]?.prompt_logprobs;
  if (!positions) throw unsupported("its completion has no prompt_logprobs");
  if (positions.length !== tokens.length) {
    throw new RequestError(`The upstream scored ${positions.length} prompt positions instead of ${tokens.length}`, {
      code: "upstream_error",
      hint: "Check that the upstream takes token-id prompts as given (no BOS added)",
    });
  }
  const scores = outputTokens.map((token, k): TokenScore => {
    const entry = positions[promptTokens.length + k];
    const own = entry?.[String(token)];
    if (!entry || !own || own.rank == null) {
      throw new RequestError(`The upstream did not score output token ${k} (${token})`, { code: "upstream_error" });
    }
    const score: TokenScore = { token, logprob: own.logprob, probability: Math.exp(own.logprob), rank: own.rank };
    if (topK > 0) {
      // The entry holds the top-k plus the scored token; when the scored token ranks below k it is
      // strictly less likely than all k, so the k most likely entries are the top-k.
      score.top = Object.entries(entry)
        .map(([id, v]) => ({ token: Number(id), logprob: v.logprob, rank: v.rank ?? Number.MAX_SAFE_INTEGER }))
        .sort((a, b) => b.logprob - a.logprob || a.rank - b.rank || a.token - b.token)
        .slice(0, topK)
        .map(({ token: t, logprob }) => ({ token: t, logprob }));
    }
    return score;
  });
  return { scores };
}
