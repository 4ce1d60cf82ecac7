import { ConfigError, isReasonCode, RequestError } from "@verity/core";
import type { Command } from "commander";
import { z } from "zod";
import { formatAmount } from "../format-amount.ts";
import { parseAmount, parseInteger } from "../parse-flags.ts";
import { runCommand } from "../run-command.ts";
import { formatTable } from "../table.ts";

type QuoteFlags = {
  gateway: string;
  model: string;
  maxTokens: string;
  promptTokens: string;
  maxPriceIn?: string;
  maxPriceOut?: string;
  provider?: string;
  json?: boolean;
};

const uint = z.string().regex(/^\d+$/);
const quoteSchema = z.object({
  model: z.string(),
  servable: z.boolean(),
  reason: z.string().optional(),
  message: z.string().optional(),
  expectedPrice: uint.optional(),
  feeBps: z.number().int().nonnegative().optional(),
  route: z.array(uint).optional(),
  excluded: z.record(z.string(), z.array(uint)).optional(),
  providers: z.array(
    z.object({
      agentId: uint,
      url: z.string(),
      inputPricePerMTok: uint,
      outputPricePerMTok: uint,
      expectedCost: uint,
      healthy: z.boolean(),
      latencyMs: z.number(),
      eligible: z.boolean(),
    }),
  ),
});
const errorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), hint: z.string().optional() }),
});

export function registerQuote(program: Command): void {
  program
    .command("quote")
    .description("Ask a gateway whether a request would be served: by whom, at what price, or why not")
    .option("--gateway <url>", "the gateway's URL (or VERITY_GATEWAY)", "http://127.0.0.1:8546")
    .requiredOption("--model <name>", "model name, as offers publish it")
    .option("--max-tokens <n>", "max_tokens of the request", "256")
    .option("--prompt-tokens <n>", "expected prompt tokens", "64")
    .option("--max-price-in <amount>", "cap on the input price per 1M tokens, in the payment token")
    .option("--max-price-out <amount>", "cap on the output price per 1M tokens, in the payment token")
    .option(
      "--provider <json>",
      'OpenRouter-style provider preferences, as the chat route takes them (e.g. \'{"sort":"price","only":[3]}\')',
    )
    .option("--json", "print the quote as one JSON line")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity quote --model verity-tiny --max-tokens 128\n" +
        "  $ verity quote --gateway https://gw.example.com --model qwen2.5-0.5b --max-tokens 512 --max-price-out 2 --json\n\n" +
        "Exits 0 when the request would be served, 1 when not (the reason is printed) or on an error.",
    )
    .action(async (flags: QuoteFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const query = new URLSearchParams({
          model: flags.model,
          max_tokens: String(parseInteger("--max-tokens", flags.maxTokens, 1)),
          prompt_tokens: String(parseInteger("--prompt-tokens", flags.promptTokens)),
        });
        if (flags.maxPriceIn) query.set("max_price_in", parseAmount("--max-price-in", flags.maxPriceIn).toString());
        if (flags.maxPriceOut) query.set("max_price_out", parseAmount("--max-price-out", flags.maxPriceOut).toString());
        if (flags.provider !== undefined) query.set("provider", providerFlag(flags.provider));
        const base = flags.gateway.replace(/\/+$/, "").replace(/\/v1$/, "");
        if (!/^https?:\/\/\S+$/.test(base)) {
          throw new ConfigError(`--gateway ${JSON.stringify(flags.gateway)} is not an http(s) URL`, {
            code: "invalid_parameter",
            hint: "For example --gateway http://127.0.0.1:8546",
          });
        }
        let response: Response;
        try {
          response = await fetch(`${base}/v1/quote?${query}`, { signal: AbortSignal.timeout(10_000) });
        } catch (cause) {
          throw new RequestError(`The gateway at ${base} did not answer`, {
            code: "upstream_unreachable",
            hint: "Check --gateway and that the gateway runs (`verity gateway start`, or `verity devnet`)",
            cause,
          });
        }
        const body: unknown = await response.json().catch(() => undefined);
        if (!response.ok) {
          const error = errorSchema.safeParse(body);
          const code = error.success && isReasonCode(error.data.error.code) ? error.data.error.code : "upstream_error";
          throw new RequestError(
            error.success ? error.data.error.message : `The gateway answered ${response.status}`,
            error.success && error.data.error.hint ? { code, hint: error.data.error.hint } : { code },
          );
        }
        const parsed = quoteSchema.safeParse(body);
        if (!parsed.success) {
          throw new RequestError(`${base}/v1/quote did not answer with a quote`, {
            code: "upstream_error",
            hint: "Is --gateway a Verity gateway?",
          });
        }
        const q = parsed.data;
        if (!q.servable) process.exitCode = 1;
        if (json) {
          process.stdout.write(`${JSON.stringify({ event: "quote", ...q })}\n`);
          return;
        }
        if (q.servable) {
          const first = q.route?.[0];
          const best = q.providers.find((p) =>
            first === undefined ? p.eligible && p.expectedCost === q.expectedPrice : p.agentId === first,
          );
          process.stdout.write(
            `${q.model}: served${best ? ` by agent ${best.agentId} (${best.url})` : ""} for about ${formatAmount(BigInt(q.expectedPrice ?? "0"))}` +
              `${q.feeBps === undefined ? "" : ` + ${q.feeBps / 100} % gateway fee`}\n`,
          );
        } else {
          process.stdout.write(`${q.model}: not served — ${q.message ?? q.reason} [${q.reason ?? "unknown"}]\n`);
        }
        if (q.route && q.route.length > 0) process.stdout.write(`tried in order: agents ${q.route.join(", ")}\n`);
        if (q.providers.length > 0) {
          const rows = q.providers.map((p) => [
            p.agentId,
            formatAmount(BigInt(p.inputPricePerMTok)),
            formatAmount(BigInt(p.outputPricePerMTok)),
            formatAmount(BigInt(p.expectedCost)),
            p.healthy ? "yes" : "no",
            p.eligible ? "yes" : "no",
            p.url,
          ]);
          const columns = ["agent", "in /1M", "out /1M", "expected", "healthy", "eligible", "url"];
          process.stdout.write(`${formatTable({ columns, rows, right: ["in /1M", "out /1M", "expected"] })}\n`);
        }
      });
    });
}

/** `--provider`: a JSON object, re-serialised compactly for the query string (the gateway validates its fields). */
function providerFlag(text: string): string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError(`--provider ${JSON.stringify(text)} is not a JSON object`, {
      code: "invalid_parameter",
      hint: 'For example --provider \'{"sort":"price","quantizations":["bf16"]}\'',
    });
  }
  return JSON.stringify(value);
}
