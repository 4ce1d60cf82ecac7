import { resolve } from "node:path";
import { createNativeAccount, readDeployment } from "@verity/chain";
import { ConfigError } from "@verity/core";
import { createGateway } from "@verity/gateway";
import type { Command } from "commander";
import { keyFileOption, keystoreOption, rawKeyOption } from "../chain-options.ts";
import { parseAmount, parseInteger } from "../parse-flags.ts";
import { createProgress } from "../progress.ts";
import { readKey, readSigningKey } from "../read-key.ts";
import { runCommand } from "../run-command.ts";
import { registerGatewayDeposit } from "./gateway-deposit.ts";

type GatewayFlags = {
  host: string;
  port: string;
  endpoint?: string;
  rpc: string;
  deployment: string;
  key?: string;
  keyFile?: string;
  keystore?: string;
  stateDir: string;
  database?: string;
  replicaId?: string;
  payerKeyFile?: string;
  feeBps: string;
  channelDeposit: string;
  x402: boolean;
  auditP: string;
  auditAlwaysAbove?: string;
  validatorUrl?: string;
  allowPrivateOffers?: boolean;
  depositConfirmations: string;
  agent?: string | true;
  json?: boolean;
};

export function registerGateway(program: Command): void {
  const gateway = program
    .command("gateway")
    .description("Run an OpenAI-compatible gateway over every provider, paid by API key or x402");
  gateway
    .command("start")
    .description("Serve /v1 over the provider directory: routing, failover, prepaid keys and x402 payments")
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on", "8546")
    .option("--endpoint <url>", "public URL (for x402 resource URLs)")
    .option("--rpc <url>", "JSON-RPC URL of the chain", process.env.VERITY_RPC ?? "http://127.0.0.1:8545")
    .option("--deployment <file>", "deployment file", process.env.VERITY_DEPLOYMENT ?? ".verity/devnet/deployment.json")
    .addOption(keyFileOption("gateway key"))
    .addOption(keystoreOption("gateway key"))
    .addOption(rawKeyOption())
    .option("--state-dir <dir>", "folder for the gateway's stores", ".verity/gateway")
    .option(
      "--database <url>",
      "postgres://… shared by several gateway replicas (keys, balances, ledger, deposits); default: embedded PGlite in --state-dir",
    )
    .option("--replica-id <id>", "this replica's id on the holds it makes (stable across restarts); default: random")
    .option(
      "--payer-key-file <file>",
      "key that opens channels and signs vouchers to providers; each replica on a shared --database needs its own (default: the gateway key)",
    )
    .option("--fee-bps <bps>", "fee on top of provider charges, basis points", "500")
    .option("--channel-deposit <amount>", "escrow per channel the gateway opens to a provider", "10")
    .option("--no-x402", "refuse keyless x402 payments (API keys only)")
    .option("--audit-p <fraction>", "share of paid answers sent to a validator for audit (needs --validator-url)", "0")
    .option(
      "--audit-always-above <amount>",
      "charge (in tokens) from which every paid answer is audited; below it the share rises linearly from --audit-p",
    )
    .option("--validator-url <url>", "validator audit intake, e.g. http://validator:8620/v1/audits")
    .option(
      "--allow-private-offers",
      "also probe and pay offers whose endpoint is a loopback, private or link-local address (local networks, the devnet)",
    )
    .option(
      "--deposit-confirmations <n>",
      "blocks a GatewayDeposits deposit must be buried under before it credits a prepaid balance",
      "2",
    )
    .option(
      "--agent [id]",
      "give the gateway an ERC-8004 agent identity (reuse <id>, or the one kept in --state-dir, else register) and publish its signed Agent Card",
    )
    .option("--json", "print one ready line as JSON")
    .addHelpText(
      "after",
      "\nPrepaid balances are funded only through `verity gateway deposit` (the GatewayDeposits contract);\n" +
        "a plain token transfer to the gateway's address credits nothing.\n" +
        "\nExamples:\n  $ VERITY_KEY=0x… verity gateway start --port 8546\n  $ verity gateway start --keystore gw.json --fee-bps 300 --no-x402\n  $ verity gateway start --allow-private-offers   # providers on 127.0.0.1 / 10.x" +
        "\n  $ verity gateway start --database postgres://verity@db:5432/gateway --payer-key-file payer-1.key   # one of several replicas",
    )
    .action(async (flags: GatewayFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const progress = createProgress();
        const deployment = readDeployment(resolve(flags.deployment));
        const node = createGateway({
          deployment,
          rpcUrl: flags.rpc,
          account: createNativeAccount(await readSigningKey(flags)),
          stateDir: resolve(flags.stateDir),
          ...(flags.database ? { database: flags.database } : {}),
          ...(flags.replicaId ? { replicaId: flags.replicaId } : {}),
          ...(flags.payerKeyFile
            ? { payerAccount: createNativeAccount(readKey({ keyFile: flags.payerKeyFile })) }
            : {}),
          host: flags.host,
          port: parseInteger("--port", flags.port),
          ...(flags.endpoint ? { publicUrl: flags.endpoint } : {}),
          feeBps: parseInteger("--fee-bps", flags.feeBps),
          channelDeposit: parseAmount("--channel-deposit", flags.channelDeposit, deployment.token.decimals),
          x402: flags.x402,
          allowPrivateEndpoints: flags.allowPrivateOffers === true,
          depositConfirmations: parseInteger("--deposit-confirmations", flags.depositConfirmations, 0),
          ...auditOption(flags, deployment.token.decimals),
          ...(flags.agent === undefined
            ? {}
            : {
                agent: flags.agent === true ? {} : { agentId: BigInt(parseInteger("--agent", String(flags.agent), 1)) },
              }),
          onError: (e) => progress.info(`! ${(e as Error).message ?? e}`),
        });
        const shutdown = async () => {
          await node.stop();
          process.exit(0);
        };
        process.on("SIGINT", () => void shutdown());
        process.on("SIGTERM", () => void shutdown());
        const info = await progress.step("start the gateway", () => node.start());
        if (json)
          process.stdout.write(
            `${JSON.stringify({ event: "ready", url: info.url, address: info.address, ...(info.agentId === undefined ? {} : { agentId: info.agentId.toString() }) })}\n`,
          );
        else
          progress.info(
            `gateway at ${info.url}/v1 — fund API keys (POST /v1/keys) with \`verity gateway deposit --gateway ${info.url}\``,
          );
        await new Promise(() => {});
      });
    });
  registerGatewayDeposit(gateway);
}

/** `--audit-p` (with `--audit-always-above`) and `--validator-url` as the gateway's audit option (both or neither). */
function auditOption(
  flags: GatewayFlags,
  decimals: number,
): { audit?: { p: number; alwaysAuditAbove?: bigint; validatorUrl: string } } {
  const p = Number(flags.auditP);
  if (flags.auditP.trim() === "" || !Number.isFinite(p) || p < 0 || p > 1) {
    throw new ConfigError(`--audit-p must be a fraction between 0 and 1, got ${JSON.stringify(flags.auditP)}`, {
      code: "invalid_parameter",
      hint: "Pass e.g. --audit-p 0.02 --validator-url http://127.0.0.1:8620/v1/audits",
    });
  }
  if (p > 0 && !flags.validatorUrl) {
    throw new ConfigError("--audit-p needs --validator-url: sampled answers must go to a validator", {
      code: "invalid_parameter",
      hint: "Pass --validator-url <validator>/v1/audits, or --audit-p 0",
    });
  }
  const above =
    flags.auditAlwaysAbove === undefined
      ? undefined
      : parseAmount("--audit-always-above", flags.auditAlwaysAbove, decimals);
  if (above === 0n) {
    throw new ConfigError("--audit-always-above must be above 0", { code: "invalid_parameter" });
  }
  if (above !== undefined && !flags.validatorUrl) {
    throw new ConfigError("--audit-always-above needs --validator-url: sampled answers must go to a validator", {
      code: "invalid_parameter",
      hint: "Pass --validator-url <validator>/v1/audits",
    });
  }
  return (p > 0 || above !== undefined) && flags.validatorUrl
    ? { audit: { p, ...(above === undefined ? {} : { alwaysAuditAbove: above }), validatorUrl: flags.validatorUrl } }
    : {};
}
