import { readFileSync } from "node:fs";
import { BaseError, ConfigError, type KeyScope, RequestError } from "@verity/core";
import { createGatewayKey, type GatewayKeyInfo, listGatewayKeys, revokeGatewayKey } from "@verity/sdk";
import { type Command, Option } from "commander";
import { privateKeyToAccount } from "viem/accounts";
import { keyFileOption, keystoreOption, rawKeyOption } from "../chain-options.ts";
import { formatAmount } from "../format-amount.ts";
import { parseAmount, parseDuration } from "../parse-flags.ts";
import { readSigningKey } from "../read-key.ts";
import { runCommand } from "../run-command.ts";
import { formatTable } from "../table.ts";

type GatewayFlags = { gateway: string; json?: boolean };
type CreateFlags = GatewayFlags & {
  key?: string;
  keyFile?: string;
  keystore?: string;
  spendLimit?: string;
  models?: string;
  expires?: string;
  label?: string;
  maxPerCall?: string;
  dailyLimit?: string;
  rpm?: string;
  tpm?: string;
  concurrency?: string;
};
type ManageFlags = GatewayFlags & { apiKeyFile?: string; apiKey?: string };

function gatewayBase(value: string): string {
  const base = value.replace(/\/+$/, "").replace(/\/v1$/, "");
  if (!/^https?:\/\/\S+$/.test(base)) {
    throw new ConfigError(`--gateway ${JSON.stringify(value)} is not an http(s) URL`, {
      code: "invalid_parameter",
      hint: "For example --gateway http://127.0.0.1:8546",
    });
  }
  return base;
}

/** The API key a management command acts with: `--api-key-file`, else `VERITY_API_KEY`; never from argv. */
function readApiKey(flags: ManageFlags): string {
  if (flags.apiKey !== undefined) {
    throw new ConfigError("API keys are not accepted on the command line (anyone on the machine can read them)", {
      code: "key_in_argv",
      hint: "Put the key in a file (chmod 600) and pass --api-key-file <file>, or set VERITY_API_KEY",
    });
  }
  const file = flags.apiKeyFile || process.env.VERITY_API_KEY_FILE;
  const value = file ? readFileSync(file, "utf8").trim() : process.env.VERITY_API_KEY;
  if (!value?.startsWith("vk_")) {
    throw new ConfigError("No API key given", {
      code: "invalid_parameter",
      hint: "Pass --api-key-file <file> or set VERITY_API_KEY to a vk_… key of the same owner",
    });
  }
  return value;
}

/** Wraps a gateway that does not answer into one clear error naming the flag to fix. */
async function reach<T>(base: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof BaseError) throw error;
    throw new RequestError(`The gateway at ${base} did not answer`, {
      code: "upstream_unreachable",
      hint: "Check --gateway and that the gateway runs (`verity gateway start`, or `verity devnet`)",
      cause: error,
    });
  }
}

/** The decimals of the gateway's payment token (from its /health), so `--spend-limit 5` means 5 tokens. */
async function tokenDecimals(base: string): Promise<number> {
  const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json().catch(() => ({}))) as { token?: { decimals?: unknown } };
  const decimals = body.token?.decimals;
  if (typeof decimals !== "number" || !Number.isInteger(decimals) || decimals < 0 || decimals > 36) {
    throw new RequestError(`${base}/health does not name the gateway's payment token`, {
      code: "upstream_error",
      hint: "Is --gateway a Verity gateway?",
    });
  }
  return decimals;
}

function keyRow(k: GatewayKeyInfo): string[] {
  return [
    k.id,
    k.label ?? "",
    k.spendLimit === null ? "—" : formatAmount(BigInt(k.spendLimit)),
    formatAmount(BigInt(k.spent)),
    k.models?.join(",") ?? "all",
    k.expiresAt === null ? "never" : new Date(k.expiresAt * 1000).toISOString(),
    k.revoked ? `revoked (${k.revoked.reason})` : "active",
  ];
}

const COLUMNS = ["id", "label", "limit", "spent", "models", "expires", "status"];

export function registerKeys(program: Command): void {
  const keys = program
    .command("keys")
    .description("Gateway API keys: create one by signing in with the owner's key, list and revoke them")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity keys create --key-file owner.key --spend-limit 5 --label agent\n" +
        "  $ VERITY_API_KEY=vk_… verity keys list\n  $ VERITY_API_KEY=vk_… verity keys revoke key_0123abcd",
    );
  keys
    .command("create")
    .description("Create an API key that spends the owner's prepaid balance at a gateway (signs a sign-in message)")
    .option("--gateway <url>", "the gateway's URL (or VERITY_GATEWAY)", "http://127.0.0.1:8546")
    .addOption(keyFileOption("owner's private key (the address whose deposits fund the key)"))
    .addOption(keystoreOption("owner's key"))
    .addOption(rawKeyOption())
    .option("--spend-limit <amount>", "the most the key may ever spend, in the payment token (e.g. 5)")
    .option("--models <ids>", "comma-separated models the key may call (default: all)")
    .option("--expires <duration>", "the key stops working after this long (e.g. 30m, 24h)")
    .option("--label <text>", "a name for the key in `verity keys list`")
    .option("--max-per-call <amount>", "the most one request may cost (its maximum charge), in the payment token")
    .option("--daily-limit <amount>", "the most the key may spend per UTC day, in the payment token")
    .option("--rpm <n>", "requests per minute (counted per gateway replica)")
    .option("--tpm <n>", "prompt + completion tokens per minute (counted per gateway replica)")
    .option("--concurrency <n>", "requests in flight at once (counted per gateway replica)")
    .option("--json", "print the key as one JSON line")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity keys create --key-file owner.key\n" +
        "  $ verity keys create --gateway https://gw.example.com --key-file owner.key --spend-limit 5 --models qwen2.5-0.5b --expires 24h --label agent\n" +
        "  $ verity keys create --key-file owner.key --max-per-call 0.05 --daily-limit 2 --rpm 60 --tpm 20000 --concurrency 4\n\n" +
        "The key is printed once; the gateway keeps only its hash. A key with a spend limit or a model list\n" +
        "may list and revoke only itself; a key without them manages all of the owner's keys.",
    )
    .action(async (flags: CreateFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const base = gatewayBase(flags.gateway);
        const account = privateKeyToAccount(await readSigningKey(flags));
        const decimals =
          flags.spendLimit || flags.maxPerCall || flags.dailyLimit ? await reach(base, () => tokenDecimals(base)) : 6;
        const count = (flag: string, value: string | undefined) => {
          if (value === undefined) return undefined;
          if (!/^[1-9][0-9]{0,8}$/.test(value)) {
            throw new ConfigError(`${flag} ${JSON.stringify(value)} is not a positive integer`, {
              code: "invalid_parameter",
              hint: `For example ${flag} 60`,
            });
          }
          return Number(value);
        };
        const rates = {
          rpm: count("--rpm", flags.rpm),
          tpm: count("--tpm", flags.tpm),
          concurrency: count("--concurrency", flags.concurrency),
        };
        const scope: KeyScope = {
          ...(flags.spendLimit ? { spendLimit: parseAmount("--spend-limit", flags.spendLimit, decimals) } : {}),
          ...(flags.models
            ? {
                models: flags.models
                  .split(",")
                  .map((m) => m.trim())
                  .filter(Boolean),
              }
            : {}),
          ...(flags.expires
            ? { expiresAt: Math.floor((Date.now() + parseDuration("--expires", flags.expires)) / 1000) }
            : {}),
          ...(flags.label ? { label: flags.label } : {}),
          ...(flags.maxPerCall ? { maxPerCall: parseAmount("--max-per-call", flags.maxPerCall, decimals) } : {}),
          ...(flags.dailyLimit ? { dailyLimit: parseAmount("--daily-limit", flags.dailyLimit, decimals) } : {}),
          ...(rates.rpm === undefined ? {} : { rpm: rates.rpm }),
          ...(rates.tpm === undefined ? {} : { tpm: rates.tpm }),
          ...(rates.concurrency === undefined ? {} : { concurrency: rates.concurrency }),
        };
        const created = await reach(base, () => createGatewayKey({ gatewayUrl: base, account, scope }));
        if (json) {
          process.stdout.write(`${JSON.stringify({ event: "key_created", ...created })}\n`);
          return;
        }
        process.stdout.write(
          `API key for ${created.owner} at ${base} (shown once — store it now):\n  ${created.key}\n\n` +
            `${formatTable({ columns: COLUMNS, rows: [keyRow(created)] })}\n\n` +
            `Fund it: deposit ${created.token.symbol} for ${created.owner} to the gateway ${created.depositTo}.\n` +
            `Use it:  new OpenAI({ baseURL: "${base}/v1", apiKey: "<the key>" })\n`,
        );
      });
    });
  keys
    .command("list")
    .description("List the owner's API keys (a scoped key sees only itself)")
    .option("--gateway <url>", "the gateway's URL (or VERITY_GATEWAY)", "http://127.0.0.1:8546")
    .option("--api-key-file <file>", "file holding a vk_… key of the owner (or VERITY_API_KEY)")
    .addOption(apiKeyArgvOption())
    .option("--json", "print one JSON line")
    .addHelpText(
      "after",
      "\nExamples:\n  $ VERITY_API_KEY=vk_… verity keys list\n  $ verity keys list --gateway https://gw.example.com --api-key-file my.apikey --json",
    )
    .action(async (flags: ManageFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const base = gatewayBase(flags.gateway);
        const data = await reach(base, () => listGatewayKeys({ gatewayUrl: base, apiKey: readApiKey(flags) }));
        if (json) process.stdout.write(`${JSON.stringify({ event: "keys", data })}\n`);
        else process.stdout.write(`${formatTable({ columns: COLUMNS, rows: data.map(keyRow) })}\n`);
      });
    });
  keys
    .command("revoke <id>")
    .description("Revoke an API key of the owner at once (requests with it answer 401 api_key_revoked)")
    .option("--gateway <url>", "the gateway's URL (or VERITY_GATEWAY)", "http://127.0.0.1:8546")
    .option("--api-key-file <file>", "file holding a vk_… key of the owner (or VERITY_API_KEY)")
    .addOption(apiKeyArgvOption())
    .option("--json", "print one JSON line")
    .addHelpText(
      "after",
      "\nExamples:\n  $ VERITY_API_KEY=vk_… verity keys revoke key_0123abcd\n" +
        "  $ verity keys revoke key_0123abcd --api-key-file my.apikey --json\n\n" +
        "A leaked full key? Create a fresh one with `verity keys create`, then revoke the leaked one with it.",
    )
    .action(async (id: string, flags: ManageFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const base = gatewayBase(flags.gateway);
        const revoked = await reach(base, () => revokeGatewayKey({ gatewayUrl: base, apiKey: readApiKey(flags), id }));
        if (json) process.stdout.write(`${JSON.stringify({ event: "key_revoked", ...revoked })}\n`);
        else process.stdout.write(`revoked ${revoked.id}${revoked.label ? ` (${revoked.label})` : ""}\n`);
      });
    });
}

/** A hidden `--api-key <vk_…>` that exists only to refuse keys on the command line (`key_in_argv`). */
function apiKeyArgvOption(): Option {
  return new Option("--api-key <key>", "refused: a key on the command line is visible to every user").hideHelp();
}
