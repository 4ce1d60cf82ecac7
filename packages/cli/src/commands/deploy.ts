import { resolve } from "node:path";
import { deploy, writeDeployment } from "@verity/chain";
import { ConfigError, type DeployParamsInput } from "@verity/core";
import type { Command } from "commander";
import { keyFileOption, keystoreOption, rawKeyOption } from "../chain-options.ts";
import { parseInteger } from "../parse-flags.ts";
import { createProgress } from "../progress.ts";
import { readSigningKey } from "../read-key.ts";
import { runCommand } from "../run-command.ts";

type DeployFlags = {
  rpc: string;
  key?: string;
  keyFile?: string;
  keystore?: string;
  out: string;
  chainId?: string;
  token?: string;
  treasury?: string;
  feeBps?: string;
  param: string[];
  json?: boolean;
};

export function registerDeploy(program: Command): void {
  program
    .command("deploy")
    .description("Deploy the Verity contracts to any EVM chain and write the deployment file")
    .requiredOption("--rpc <url>", "JSON-RPC URL of the target chain (or VERITY_RPC)")
    .addOption(keyFileOption("deployer key"))
    .addOption(keystoreOption("deployer key"))
    .addOption(rawKeyOption())
    .option("--out <file>", "where to write the deployment file", "deployment.json")
    .option("--chain-id <id>", "refuse to deploy unless the chain has this id")
    .option("--token <address>", "use an existing stablecoin instead of deploying TestUSD")
    .option("--treasury <address>", "receiver of the protocol fee (default: the deployer)")
    .option("--fee-bps <bps>", "protocol fee in basis points")
    .option(
      "--param <name=value>",
      "any deployment parameter, repeatable",
      (v: string, acc: string[]) => [...acc, v],
      [],
    )
    .option("--json", "print the deployment as one JSON line")
    .addHelpText(
      "after",
      "\nExamples:\n  $ VERITY_KEY=0x… verity deploy --rpc http://127.0.0.1:8545 --out deployment.json\n" +
        "  $ verity chain --port 8545 & verity deploy --rpc http://127.0.0.1:8545 --key-file deployer.key  (deployer key printed by chain)\n" +
        "  $ verity deploy --rpc https://sepolia.base.org --chain-id 84532 --token 0x036C…CF7e --param unbondingDelay=604800",
    )
    .action(async (flags: DeployFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const progress = createProgress({ quiet: json });
        const params: Record<string, unknown> = {};
        for (const pair of flags.param) {
          const [name, value] = pair.split("=", 2);
          if (!name || value === undefined) {
            throw new ConfigError(`--param ${pair} is not name=value`, { code: "invalid_parameter" });
          }
          params[name] = /^(true|false)$/.test(value)
            ? value === "true"
            : /^\d+$/.test(value) && name.endsWith("Bps")
              ? Number(value)
              : value;
        }
        if (flags.token) params.token = flags.token;
        if (flags.treasury) params.treasury = flags.treasury;
        if (flags.feeBps) params.protocolFeeBps = Number(flags.feeBps);
        const out = resolve(flags.out);
        const expectedChainId = flags.chainId === undefined ? undefined : parseInteger("--chain-id", flags.chainId, 1);
        const deployment = await deploy({
          rpcUrl: flags.rpc,
          deployer: await readSigningKey(flags),
          params: params as DeployParamsInput,
          ...(expectedChainId === undefined ? {} : { expectedChainId }),
          onProgress: (p) => progress.info(`✔ ${p.step}${p.address ? ` at ${p.address}` : ""} (${p.ms} ms)`),
        });
        writeDeployment(out, deployment);
        if (json) process.stdout.write(`${JSON.stringify({ event: "deployed", file: out, deployment })}\n`);
        else progress.info(`Deployment for chain ${deployment.chainId} written to ${out}`);
      });
    });
}
