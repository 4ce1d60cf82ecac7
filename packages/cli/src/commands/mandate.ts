import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { createNativeAccount } from "@verity/chain";
import {
  ConfigError,
  mandateDomain,
  mandateHash,
  mandateJson,
  mandateTypes,
  parseSignedMandate,
  type SignedMandate,
  type SpendMandate,
} from "@verity/core";
import { loadOrCreateSecret } from "@verity/sdk";
import type { Command } from "commander";
import { type ChainFlags, openChainContext, parseAddress } from "../chain-context.ts";
import { addChainOptions } from "../chain-options.ts";
import { DEFAULT_CLIENT_STATE_DIR } from "../channel-state.ts";
import { formatAmount } from "../format-amount.ts";
import { parseAmount, parseDuration } from "../parse-flags.ts";
import { runCommand } from "../run-command.ts";

type SignFlags = ChainFlags & {
  stateDir: string;
  spender?: string;
  perCall?: string;
  perHour?: string;
  perDay?: string;
  total: string;
  maxPriceIn?: string;
  maxPriceOut?: string;
  models?: string;
  quantizations?: string;
  counterparties?: string;
  validFor: string;
  out: string;
  json?: boolean;
};

const list = (value: string | undefined) =>
  (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

/** Reads and checks a signed mandate file (shape, chain, owner's signature, spender). */
export async function readMandateFile(args: { file: string; chainId: number; spender: `0x${string}` }) {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(resolve(args.file), "utf8"));
  } catch (cause) {
    throw new ConfigError(`Cannot read the mandate file ${args.file}`, {
      code: "mandate_invalid",
      hint: "Create one with `verity mandate sign --total <amount> --out mandate.json`",
      cause,
    });
  }
  return parseSignedMandate({ value, chainId: args.chainId, spender: args.spender });
}

function describe(signed: SignedMandate, decimals: number, symbol: string): string {
  const m = signed.mandate;
  const amount = (v: bigint) => (v === 0n ? "no limit" : `${formatAmount(v, decimals)} ${symbol}`);
  const any = (xs: readonly unknown[]) => (xs.length === 0 ? "any" : xs.join(", "));
  return [
    `mandate ${mandateHash(signed)}`,
    `  owner ${m.owner} → spender ${m.spender}`,
    `  per call ${amount(m.perCall)} · per hour ${amount(m.perHour)} · per day ${amount(m.perDay)} · total ${amount(m.total)}`,
    `  models ${any(m.models)} · quantizations ${any(m.quantizations)} · providers ${any(m.counterparties)}`,
    `  valid ${new Date(Number(m.validAfter) * 1000).toISOString()} → ${new Date(Number(m.validBefore) * 1000).toISOString()}`,
  ].join("\n");
}

export function registerMandate(program: Command): void {
  const mandate = program
    .command("mandate")
    .description("Clients and agent owners: sign and inspect spend mandates that bound what a key may pay")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity mandate sign --total 5 --per-call 0.05 --per-day 1 --models verity-tiny --valid-for 7d --out mandate.json\n" +
        "  $ verity mandate show mandate.json\n  $ verity mcp --mandate mandate.json",
    );

  addChainOptions(mandate.command("sign").description("Sign a spend mandate with the owner's key"), {
    key: "owner's (payer's) private key",
  })
    .option(
      "--state-dir <dir>",
      "client state dir whose voucher key the mandate names as spender",
      DEFAULT_CLIENT_STATE_DIR,
    )
    .option("--spender <address>", "the key allowed to spend (default: the state dir's voucher key)")
    .requiredOption("--total <amount>", "total the spender may pay, in the payment token (e.g. 5 = 5 TUSD)")
    .option("--per-call <amount>", "most one request may cost")
    .option("--per-hour <amount>", "most paid in any rolling hour")
    .option("--per-day <amount>", "most paid in any rolling day")
    .option("--max-price-in <amount>", "highest input price per 1M tokens")
    .option("--max-price-out <amount>", "highest output price per 1M tokens")
    .option("--models <names>", "comma-separated models allowed (default: any)")
    .option("--quantizations <names>", "comma-separated quantizations allowed, e.g. f16,q8_0 (default: any)")
    .option("--counterparties <ids>", "comma-separated provider agent ids allowed (default: any)")
    .option("--valid-for <duration>", "how long the mandate is valid", "30d")
    .option("--out <file>", "where to write the signed mandate", "mandate.json")
    .option("--json", "print one JSON line")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity mandate sign --key-file payer.key --total 5 --per-call 0.05 --per-day 1 --valid-for 7d\n" +
        "  $ verity mandate sign --keystore me.json --spender 0x… --total 20 --models qwen2.5-0.5b --quantizations bf16 --counterparties 1,3 --out agent.json",
    )
    .action(async (flags: SignFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const { deployment, account } = await openChainContext({ ...flags, needKey: true });
        if (!account) throw new Error("unreachable: needKey");
        const spender = flags.spender
          ? parseAddress("--spender", flags.spender)
          : createNativeAccount(loadOrCreateSecret(resolve(flags.stateDir), "authorizer.key")).address;
        const decimals = deployment.token.decimals;
        const amount = (flag: string, value: string | undefined) => (value ? parseAmount(flag, value, decimals) : 0n);
        const now = BigInt(Math.floor(Date.now() / 1000));
        const counterparties = list(flags.counterparties).map((id) => {
          if (!/^\d+$/.test(id)) {
            throw new ConfigError(`--counterparties: ${JSON.stringify(id)} is not an agent id`, {
              code: "invalid_parameter",
              hint: "Give agent ids separated by commas, e.g. 1,3",
            });
          }
          return BigInt(id);
        });
        const body: SpendMandate = {
          owner: account.address,
          spender,
          token: deployment.token.address,
          perCall: amount("--per-call", flags.perCall),
          perHour: amount("--per-hour", flags.perHour),
          perDay: amount("--per-day", flags.perDay),
          total: parseAmount("--total", flags.total, decimals),
          maxInputPricePerMTok: amount("--max-price-in", flags.maxPriceIn),
          maxOutputPricePerMTok: amount("--max-price-out", flags.maxPriceOut),
          models: list(flags.models),
          quantizations: list(flags.quantizations),
          counterparties,
          validAfter: now - 60n,
          validBefore: now + BigInt(Math.ceil(parseDuration("--valid-for", flags.validFor) / 1000)),
          salt: `0x${randomBytes(32).toString("hex")}`,
        };
        const signature = await account.signTypedData({
          domain: mandateDomain({ chainId: deployment.chainId }),
          types: mandateTypes,
          primaryType: "SpendMandate",
          message: body,
        });
        const signed: SignedMandate = { chainId: deployment.chainId, mandate: body, signature };
        writeFileSync(resolve(flags.out), `${JSON.stringify(mandateJson(signed), null, 2)}\n`, { mode: 0o600 });
        if (json) {
          process.stdout.write(
            `${JSON.stringify({ event: "mandate", file: flags.out, hash: mandateHash(signed), ...mandateJson(signed) })}\n`,
          );
        } else {
          process.stdout.write(`${describe(signed, decimals, deployment.token.symbol)}\n✔ written to ${flags.out}\n`);
        }
      });
    });

  addChainOptions(mandate.command("show").description("Check a signed mandate file and print its limits"), {})
    .argument("<file>", "the signed mandate (JSON)")
    .option("--json", "print one JSON line")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity mandate show mandate.json\n  $ verity mandate show agent.json --json",
    )
    .action(async (file: string, flags: ChainFlags & { json?: boolean }) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const { deployment } = await openChainContext({ ...flags, needKey: false });
        const raw = JSON.parse(readFileSync(resolve(file), "utf8")) as { mandate?: { spender?: string } };
        const spender = parseAddress("The mandate's spender", String(raw.mandate?.spender ?? ""));
        const signed = await readMandateFile({ file, chainId: deployment.chainId, spender });
        if (json)
          process.stdout.write(
            `${JSON.stringify({ event: "mandate", valid: true, hash: mandateHash(signed), ...mandateJson(signed) })}\n`,
          );
        else
          process.stdout.write(
            `${describe(signed, deployment.token.decimals, deployment.token.symbol)}\n✔ signed by its owner\n`,
          );
      });
    });
}
