import { resolve } from "node:path";
import { createNativeAccount, readDeployment } from "@verity/chain";
import { ConfigError } from "@verity/core";
import { createAgent, type TaskHandler } from "@verity/provider";
import { createVerityClient, loadOrCreateSecret } from "@verity/sdk";
import type { Command } from "commander";
import { formatUnits } from "viem";
import { type ChainFlags, openChainContext } from "../chain-context.ts";
import { addChainOptions, keyFileOption, keystoreOption, rawKeyOption } from "../chain-options.ts";
import { DEFAULT_CLIENT_STATE_DIR } from "../channel-state.ts";
import { parseAmount, parseInteger } from "../parse-flags.ts";
import { createProgress } from "../progress.ts";
import { readSigningKey } from "../read-key.ts";
import { runCommand } from "../run-command.ts";

type ServeFlags = {
  skill: string;
  description: string;
  script?: string;
  url?: string;
  price: string;
  stake: string;
  endpoint?: string;
  host: string;
  port: string;
  rpc: string;
  deployment: string;
  key?: string;
  keyFile?: string;
  keystore?: string;
  dataDir: string;
  json?: boolean;
};

type CallFlags = ChainFlags & {
  skill?: string;
  maxPrice?: string;
  minReputation?: string;
  maxTokens?: string;
  stateDir: string;
  autoOpen: string;
  json?: boolean;
};

function handlerOf(flags: ServeFlags): TaskHandler {
  if ((flags.script === undefined) === (flags.url === undefined)) {
    throw new ConfigError("Give exactly one handler: --script <command> or --url <endpoint>", {
      code: "invalid_parameter",
      hint: 'For example --script "python3 summarise.py" (the task on stdin, the artifact on stdout)',
    });
  }
  return flags.script !== undefined
    ? { kind: "script", command: flags.script }
    : { kind: "url", url: flags.url as string };
}

export function registerAgent(program: Command): void {
  const agent = program.command("agent").description("Paid A2A agents: serve a handler as one, or hire one");
  agent
    .command("serve")
    .description(
      "Serve a handler as a paid A2A agent: register it (ERC-8004), stake, publish its signed Agent Card, take tasks only with a voucher, sign a receipt per task, claim",
    )
    .requiredOption("--skill <id>", "the skill's id (registered as its model name)")
    .option("--description <text>", "what the skill does (shown in the Agent Card)", "A Verity agent")
    .option("--script <command>", "run per task with the message on stdin; stdout is the artifact")
    .option("--url <endpoint>", "POST {message} per task; the text (or JSON {output}) is the artifact")
    .option("--price <amount>", "price of one task, in the payment token", "0.01")
    .option("--stake <amount>", "bonded stake to hold, in the payment token", "500")
    .option("--endpoint <url>", "public URL published in the card and offer (default: the listening URL)")
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on (0 = any free port)", "8650")
    .option("--rpc <url>", "JSON-RPC URL of the chain", process.env.VERITY_RPC ?? "http://127.0.0.1:8545")
    .option("--deployment <file>", "deployment file", process.env.VERITY_DEPLOYMENT ?? ".verity/devnet/deployment.json")
    .addOption(keyFileOption("agent key"))
    .addOption(keystoreOption("agent key"))
    .addOption(rawKeyOption())
    .option("--data-dir <dir>", "folder for the agent's stores", ".verity/agent")
    .option("--json", "print JSON lines (ready, claim) on stdout")
    .addHelpText(
      "after",
      '\nExamples:\n  $ verity agent serve --skill shout --script "tr a-z A-Z" --price 0.001 --key-file agent.key\n' +
        "  $ verity agent serve --skill summarise --url http://127.0.0.1:9000/summarise --price 0.05",
    )
    .action(async (flags: ServeFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const progress = createProgress();
        const handler = handlerOf(flags);
        const deployment = readDeployment(resolve(flags.deployment));
        const decimals = deployment.token.decimals;
        const node = createAgent({
          deployment,
          rpcUrl: flags.rpc,
          account: createNativeAccount(await readSigningKey(flags)),
          skill: flags.skill,
          description: flags.description,
          handler,
          pricePerTask: parseAmount("--price", flags.price, decimals),
          stake: parseAmount("--stake", flags.stake, decimals),
          host: flags.host,
          port: parseInteger("--port", flags.port),
          ...(flags.endpoint ? { publicUrl: flags.endpoint } : {}),
          dataDir: resolve(flags.dataDir),
          onStep: (s) => progress.info(`  ${s}`),
          onError: (e) => progress.info(`! ${(e as Error).message ?? e}`),
        });
        const shutdown = async () => {
          await node.stop();
          process.exit(0);
        };
        process.once("SIGINT", () => void shutdown());
        process.once("SIGTERM", () => void shutdown());
        const info = await progress.step("go on-chain and serve", () => node.start());
        const ready = {
          event: "ready",
          url: info.url,
          cardUrl: `${info.url}/.well-known/agent-card.json`,
          agentId: info.agentId.toString(),
          skill: flags.skill,
          modelId: info.models[0]?.modelId.toString(),
        };
        if (json) process.stdout.write(`${JSON.stringify(ready)}\n`);
        else progress.info(`agent ${info.agentId} (${flags.skill}) at ${ready.cardUrl}`);
        await new Promise(() => {});
      });
    });

  addChainOptions(
    agent
      .command("call")
      .description(
        "Hire an A2A agent: verify its card on chain, pay the task from your channel, stream its updates, print the artifact",
      )
      .argument("[card-url]", "the agent's card URL or base URL (or pass --skill to find the cheapest)")
      .argument("<message>", "the task"),
    { key: "payer's private key" },
  )
    .option("--skill <id>", "the skill to hire (required without a card URL)")
    .option("--max-price <amount>", "most the task may cost, in the payment token")
    .option("--min-reputation <value>", "lowest average feedback of the agent (with --skill discovery)")
    .option("--max-tokens <n>", "output tokens asked of an inference skill")
    .option(
      "--state-dir <dir>",
      "client state dir (channels, voucher key), shared with the SDK",
      DEFAULT_CLIENT_STATE_DIR,
    )
    .option("--auto-open <amount>", "deposit of a channel opened when none has headroom (payment token)", "1")
    .option("--json", "print the result (or the refusal) as JSON")
    .addHelpText(
      "after",
      '\nExamples:\n  $ verity agent call http://127.0.0.1:8650 "hello" --key-file payer.key\n' +
        '  $ verity agent call --skill summarise "Summarise: …" --max-price 0.05 --min-reputation 50 --json',
    )
    .action(async (cardUrl: string | undefined, message: string, flags: CallFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const { deployment, account } = await openChainContext({ ...flags, needKey: true });
        if (!account) throw new Error("unreachable: needKey");
        const decimals = deployment.token.decimals;
        const stateDir = resolve(flags.stateDir);
        const client = createVerityClient({
          rpcUrl: flags.rpc,
          deployment,
          account,
          authorizer: createNativeAccount(loadOrCreateSecret(stateDir, "authorizer.key")),
          stateDir,
          autoOpen: { amount: parseAmount("--auto-open", flags.autoOpen, decimals) },
        });
        try {
          const result = await client.callAgent({
            message,
            ...(cardUrl ? { cardUrl } : {}),
            ...(flags.skill ? { skill: flags.skill } : {}),
            ...(flags.maxPrice ? { maxPrice: parseAmount("--max-price", flags.maxPrice, decimals) } : {}),
            ...(flags.minReputation ? { minReputation: Number(flags.minReputation) } : {}),
            ...(flags.maxTokens ? { maxTokens: parseInteger("--max-tokens", flags.maxTokens, 1) } : {}),
            onUpdate: (u) => {
              if (!json) process.stderr.write(`  ${u.state}${u.paymentStatus ? ` (${u.paymentStatus})` : ""}\n`);
            },
          });
          const out = {
            event: "artifact",
            agentId: result.agentId.toString(),
            skill: result.skill,
            taskId: result.taskId,
            artifact: result.artifact,
            charge: result.charge.toString(),
            charged: result.charged.toString(),
            requestId: result.receipt?.receipt.requestId,
            updates: result.updates,
          };
          if (json) process.stdout.write(`${JSON.stringify(out)}\n`);
          else
            process.stdout.write(
              `${result.artifact}\n— agent ${result.agentId} (${result.skill}), paid ${formatUnits(result.charge, decimals)} ${deployment.token.symbol}\n`,
            );
        } finally {
          await client.stop();
        }
      });
    });
}
