import { resolve } from "node:path";
import { readDeployment } from "@verity/chain";
import { ConfigError } from "@verity/core";
import { type Engine, loadModelSpec } from "@verity/engine";
import { createOracleNode, type OracleNodeEvent } from "@verity/provider";
import type { Command } from "commander";
import { privateKeyToAccount } from "viem/accounts";
import { keyFileOption, keystoreOption, rawKeyOption } from "../chain-options.ts";
import { parseDuration } from "../parse-flags.ts";
import { createProgress } from "../progress.ts";
import { readSigningKey } from "../read-key.ts";
import { runCommand } from "../run-command.ts";

type ServeFlags = {
  model: string[];
  agentId: string;
  rpc: string;
  deployment: string;
  key?: string;
  keyFile?: string;
  keystore?: string;
  poll: string;
  finalize: boolean;
  json?: boolean;
};

/** One human line per oracle-node event. */
function describe(event: OracleNodeEvent): string {
  switch (event.event) {
    case "answered":
      return `answered request ${event.requestId} in ${event.txHash} (${event.latencyMs} ms): ${JSON.stringify(event.answer.slice(0, 80))}`;
    case "skipped":
      return `skipped request ${event.requestId} [${event.code}]`;
    case "answer_rejected":
      return `the chain refused the answer to request ${event.requestId} [${event.code}]`;
    case "finalized":
      return `finalized request ${event.requestId} in ${event.txHash}${
        event.callback === null ? "" : event.callback ? ", callback ran" : ", callback failed (recorded)"
      }`;
  }
}

function toJson(event: OracleNodeEvent): string {
  return JSON.stringify(event, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
}

export function registerOracle(program: Command): void {
  const oracle = program.command("oracle").description("Answer InferenceOracle requests from smart contracts");
  oracle
    .command("serve")
    .description(
      "Follow oracle requests for the models this provider offers, answer them with a signed receipt and the answer bond, and finalize after the challenge window",
    )
    .requiredOption(
      "--model <spec>",
      "model to serve: GGUF path, hf:<user>/<repo>, or test:verity-tiny (repeatable)",
      (v: string, a: string[]) => [...a, v],
      [],
    )
    .requiredOption("--agent-id <id>", "the provider's agent id (it needs a staked offer for each model)")
    .option("--rpc <url>", "JSON-RPC URL of the chain", process.env.VERITY_RPC ?? "http://127.0.0.1:8545")
    .option("--deployment <file>", "deployment file", process.env.VERITY_DEPLOYMENT ?? ".verity/devnet/deployment.json")
    .addOption(keyFileOption("provider key"))
    .addOption(keystoreOption("provider key"))
    .addOption(rawKeyOption())
    .option("--poll <duration>", "how often to follow the chain", "1s")
    .option("--no-finalize", "answer only; leave finalizing (payment and callback) to someone else")
    .option("--json", "print JSON lines (ready, answered, skipped, finalized) on stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  $ VERITY_KEY=0x… verity oracle serve --model test:verity-tiny --agent-id 1\n" +
        "  $ verity oracle serve --keystore provider.json --model ./model.gguf --agent-id 7 --rpc https://rpc.example",
    )
    .action(async (flags: ServeFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const progress = createProgress();
        if (!/^\d+$/.test(flags.agentId)) {
          throw new ConfigError(`--agent-id ${JSON.stringify(flags.agentId)} is not an agent id`, {
            code: "invalid_parameter",
            hint: "Pass the provider's agent id (printed by `verity provider start`)",
          });
        }
        const deployment = readDeployment(resolve(flags.deployment));
        const account = privateKeyToAccount(await readSigningKey(flags));
        const engines: Engine[] = [];
        for (const spec of flags.model) {
          engines.push(
            await progress.step(`load model ${spec}`, () =>
              loadModelSpec({ spec, onProgress: (l) => progress.info(l) }),
            ),
          );
        }
        const node = createOracleNode({
          deployment,
          rpcUrl: flags.rpc,
          account,
          agentId: BigInt(flags.agentId),
          engines,
          pollMs: parseDuration("--poll", flags.poll),
          finalize: flags.finalize,
          onEvent: (event) => {
            if (json) process.stdout.write(`${toJson(event)}\n`);
            else progress.info(describe(event));
          },
          onError: (e) => progress.info(`! ${(e as Error).message ?? e}`),
        });
        let stopping = false;
        const shutdown = async (signal: string) => {
          if (stopping) return;
          stopping = true;
          progress.info(`${signal}: finishing the running request…`);
          await node.stop();
          for (const engine of engines) await engine.close();
          process.exit(0);
        };
        process.on("SIGINT", () => void shutdown("SIGINT"));
        process.on("SIGTERM", () => void shutdown("SIGTERM"));
        const info = await progress.step("go on-chain and follow requests", () => node.start());
        const ready = {
          event: "ready",
          address: info.address,
          models: info.models.map((m) => ({ modelId: m.modelId.toString(), offerId: m.offerId.toString() })),
        };
        if (json) process.stdout.write(`${JSON.stringify(ready)}\n`);
        else
          progress.info(
            `oracle node for agent ${flags.agentId} answering models ${ready.models.map((m) => m.modelId).join(", ")}`,
          );
        await new Promise(() => {});
      });
    });
}
