import { resolve } from "node:path";
import { readDeployment } from "@verity/chain";
import { type Engine, loadModelSpec } from "@verity/engine";
import { createValidator, type ValidatorEvent } from "@verity/validator";
import type { Command } from "commander";
import { privateKeyToAccount } from "viem/accounts";
import { keyFileOption, keystoreOption, rawKeyOption } from "../chain-options.ts";
import { parseAmount, parseDuration, parseInteger } from "../parse-flags.ts";
import { createProgress } from "../progress.ts";
import { readSigningKey } from "../read-key.ts";
import { runCommand } from "../run-command.ts";

type StartFlags = {
  model: string[];
  host: string;
  port: string;
  publicUrl?: string;
  rpc: string;
  deployment: string;
  key?: string;
  keyFile?: string;
  keystore?: string;
  dataDir: string;
  poll: string;
  canaryInterval: string;
  canaryBudget: string;
  canaryDeposit: string;
  json?: boolean;
};

/** One human line per notable validator event. */
function describe(event: ValidatorEvent): string {
  switch (event.event) {
    case "audit":
      return `audit ${String(event.auditId).slice(0, 10)}… of agent ${event.agentId}: ${event.status}${
        Array.isArray(event.reasons) && event.reasons.length > 0 ? ` (${event.reasons.join(", ")})` : ""
      }`;
    case "challenge_opened":
      return `challenged agent ${event.agentId}: dispute ${event.disputeId} in ${event.txHash}`;
    case "challenge_rejected":
      return `the chain refused a challenge of agent ${event.agentId} [${event.code}]`;
    case "committee_drawn":
      return `drawn onto the committee of dispute ${event.disputeId}`;
    case "vote_committed":
      return `committed a vote on dispute ${event.disputeId} in ${event.txHash}`;
    case "vote_revealed":
      return `revealed ${event.guilty ? "guilty" : "not guilty"} on dispute ${event.disputeId} in ${event.txHash}`;
    case "dispute_resolved":
      return `dispute ${event.disputeId} resolved ${event.guilty ? "guilty" : "not guilty"}`;
    case "canary":
      return event.outcome === "sent"
        ? `canary to agent ${event.agentId} (${event.model}) paid ${event.charge}${
            event.auditId ? `, audit ${String(event.auditId).slice(0, 10)}…` : ` but not queued [${event.code}]`
          }`
        : `canary to agent ${event.agentId} (${event.model}) failed [${event.code}]`;
    default:
      return JSON.stringify(event);
  }
}

export function registerValidator(program: Command): void {
  const validator = program
    .command("validator")
    .description("Audit sampled answers, challenge failed ones, and vote on dispute committees");
  validator
    .command("start")
    .description(
      "Register the validator (once), post its bond, take audit samples at /v1/audits, challenge and vote on disputes",
    )
    .requiredOption(
      "--model <spec>",
      "model to audit: GGUF path, hf:<user>/<repo>, or test:verity-tiny (repeatable)",
      (v: string, a: string[]) => [...a, v],
      [],
    )
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on (0 = any free port)", "8700")
    .option("--public-url <url>", "URL others reach this validator at (evidence URIs; default: the listening URL)")
    .option("--rpc <url>", "JSON-RPC URL of the chain", process.env.VERITY_RPC ?? "http://127.0.0.1:8545")
    .option("--deployment <file>", "deployment file", process.env.VERITY_DEPLOYMENT ?? ".verity/devnet/deployment.json")
    .addOption(keyFileOption("validator key"))
    .addOption(keystoreOption("validator key"))
    .addOption(rawKeyOption())
    .option("--data-dir <dir>", "folder for the validator's queue, evidence and votes", ".verity/validator")
    .option("--poll <duration>", "how often to follow the chain (disputes, votes)", "2s")
    .option(
      "--canary-interval <seconds>",
      "mean seconds between canary prompts: paid requests of its own, audited like client samples (0 = off)",
      "0",
    )
    .option("--canary-budget <amount>", "most spent on canary prompts per 24 h, in the payment token", "1")
    .option("--canary-deposit <amount>", "deposit of each canary payment channel, in the payment token", "0.1")
    .option("--json", "print JSON lines (ready, audit, challenge, vote, dispute, error) on stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  $ VERITY_KEY=0x… verity validator start --model test:verity-tiny --port 8701\n" +
        "  $ verity validator start --keystore val.json --model ./Qwen2.5-0.5B-Instruct-Q8_0.gguf --public-url https://audit.example.com\n" +
        "  $ verity validator start --model test:verity-tiny --canary-interval 60 --canary-budget 0.5\n" +
        "Clients send samples to <url>/v1/audits (the SDK's validatorUrl).",
    )
    .action(async (flags: StartFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const progress = createProgress();
        const deployment = readDeployment(resolve(flags.deployment));
        const account = privateKeyToAccount(await readSigningKey(flags));
        const canaryIntervalMs = parseInteger("--canary-interval", flags.canaryInterval) * 1_000;
        const engines: Engine[] = [];
        for (const spec of flags.model) {
          engines.push(
            await progress.step(`load model ${spec}`, () =>
              loadModelSpec({ spec, onProgress: (l) => progress.info(l) }),
            ),
          );
        }
        const node = createValidator({
          deployment,
          rpcUrl: flags.rpc,
          account,
          models: engines,
          host: flags.host,
          port: parseInteger("--port", flags.port),
          ...(flags.publicUrl ? { publicUrl: flags.publicUrl } : {}),
          dataDir: resolve(flags.dataDir),
          pollMs: parseDuration("--poll", flags.poll),
          ...(canaryIntervalMs > 0
            ? {
                canary: {
                  intervalMs: canaryIntervalMs,
                  maxSpendPerDay: parseAmount("--canary-budget", flags.canaryBudget, deployment.token.decimals),
                  deposit: parseAmount("--canary-deposit", flags.canaryDeposit, deployment.token.decimals),
                },
              }
            : {}),
          onStep: (s) => progress.info(`  ${s}`),
          onEvent: (event) => {
            if (json) process.stdout.write(`${JSON.stringify(event)}\n`);
            else progress.info(describe(event));
          },
          onError: (e) => progress.info(`! ${(e as Error).message ?? e}`),
        });
        let stopping = false;
        const shutdown = async (signal: string) => {
          if (stopping) return;
          stopping = true;
          progress.info(`${signal}: finishing the running audit…`);
          await node.stop();
          for (const engine of engines) await engine.close();
          process.exit(0);
        };
        process.on("SIGINT", () => void shutdown("SIGINT"));
        process.on("SIGTERM", () => void shutdown("SIGTERM"));
        const info = await progress.step("go on-chain and serve", () => node.start());
        const ready = {
          event: "ready",
          url: info.url,
          agentId: info.agentId.toString(),
          address: info.address,
          models: info.models.map((m) => ({ name: m.name, modelId: m.modelId.toString() })),
        };
        if (json) process.stdout.write(`${JSON.stringify(ready)}\n`);
        else
          progress.info(
            `validator agent ${info.agentId} auditing ${info.models.map((m) => m.name).join(", ") || "(no registered model yet)"} — samples to ${info.url}/v1/audits`,
          );
        await new Promise(() => {});
      });
    });
}
