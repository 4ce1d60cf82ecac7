import { ConfigError } from "@verity/core";
import type { Command } from "commander";
import { createDevnet, type DevnetReady } from "../devnet/devnet.ts";
import { createProgress } from "../progress.ts";
import { runCommand } from "../run-command.ts";

type DevnetFlags = {
  host: string;
  port: string;
  portBase?: string;
  chainId: string;
  stateDir: string;
  providers: string;
  json?: boolean;
};

export function registerDevnet(program: Command): void {
  program
    .command("devnet")
    .description("Run the whole Verity network on this machine: chain, contracts, funded test accounts")
    .option("--host <host>", "interface for the JSON-RPC endpoint", "127.0.0.1")
    .option("--port <port>", "port for the JSON-RPC endpoint", "8545")
    .option("--chain-id <id>", "chain id of the embedded chain", "31337")
    .option("--port-base <port>", "chain on this port, providers on the next ones (overrides --port)")
    .option("--providers <n>", "providers to start, each a bit dearer than the last", "2")
    .option("--state-dir <dir>", "folder for the deployment file and node stores", ".verity/devnet")
    .option("--json", "print one JSON line per event (ready, …) on stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity devnet\n  $ verity devnet --port 9545 --json\n\nStop it with Ctrl-C.",
    )
    .action(async (flags: DevnetFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const progress = createProgress();
        const devnet = createDevnet({
          host: flags.host,
          port: parseIntFlag("--port", flags.port),
          chainId: parseIntFlag("--chain-id", flags.chainId),
          stateDir: flags.stateDir,
          providers: parseIntFlag("--providers", flags.providers),
          ...(flags.portBase === undefined ? {} : { portBase: parseIntFlag("--port-base", flags.portBase) }),
          progress,
          onEvent: (event) => {
            if (json) process.stdout.write(`${JSON.stringify(event)}\n`);
            else progress.info(`• ${event.event} ${JSON.stringify({ ...event, event: undefined })}`);
          },
        });
        let stopping = false;
        const shutdown = async (signal: string) => {
          if (stopping) return;
          stopping = true;
          progress.info(`\n${signal}: stopping the devnet…`);
          await devnet.stop();
          progress.info("devnet stopped");
          process.exit(0);
        };
        process.on("SIGINT", () => void shutdown("SIGINT"));
        process.on("SIGTERM", () => void shutdown("SIGTERM"));
        let ready: DevnetReady;
        try {
          ready = await devnet.start();
        } catch (error) {
          await devnet.stop();
          throw error;
        }
        if (json) process.stdout.write(`${JSON.stringify(ready)}\n`);
        else printTryIt(ready);
        await new Promise(() => {}); // run until a signal arrives
      });
    });
}

function parseIntFlag(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new ConfigError(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`, {
      code: "invalid_parameter",
      hint: `Pass a number, e.g. ${name} 8545`,
    });
  }
  return n;
}

function printTryIt(ready: DevnetReady): void {
  const lines = [
    "",
    `Verity devnet is ready — chain ${ready.chainId} at ${ready.rpcUrl}`,
    `  deployment file   ${ready.deploymentFile}`,
    `  payment token     ${ready.deployment.token.symbol} ${ready.deployment.token.address}`,
    ...Object.entries(ready.deployment.contracts).map(([name, c]) => `  ${name.padEnd(20)}${c?.address}`),
    "",
    "Providers (prices per 1M tokens, in TestUSD base units):",
    ...ready.providers.map(
      (p) => `  agent ${p.agentId.padEnd(3)} ${p.url}/v1  ${p.model}  in ${p.priceIn}  out ${p.priceOut}`,
    ),
    "",
    `Gateway            ${ready.gatewayUrl}/v1   (API key with 1,000 TUSD prepaid: ${ready.gatewayApiKey})`,
    "",
    "Try it:",
    `  curl -s -X POST ${ready.rpcUrl} -H 'content-type: application/json' \\`,
    `    -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}'`,
    `  curl -s ${ready.gatewayUrl}/v1/chat/completions -H 'authorization: Bearer ${ready.gatewayApiKey}' \\`,
    `    -H 'content-type: application/json' -d '{"model":"verity-tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":32}'`,
    `  curl -s '${ready.gatewayUrl}/v1/quote?model=verity-tiny&max_tokens=64'`,
    "",
    "  // the official openai client",
    `  const openai = new OpenAI({ baseURL: "${ready.gatewayUrl}/v1", apiKey: "${ready.gatewayApiKey}" });`,
    `  await openai.chat.completions.create({ model: "verity-tiny", messages: [{ role: "user", content: "hi" }] });`,
    "",
    "  // an x402 client, no key: pays per request in TestUSD (client-2's devnet key)",
    `  const pay = wrapFetchWithPayment(fetch, new x402Client().register("eip155:${ready.chainId}", new ExactEvmScheme(toClientEvmSigner(account)))`,
    `    .setSpendControls({ allowedAssets: [{ network: "eip155:${ready.chainId}", asset: "${ready.deployment.token.address}", maxAmountPerPayment: "1000000" }] }));`,
    `  await pay("${ready.gatewayUrl}/v1/chat/completions", { method: "POST", body: JSON.stringify({ model: "verity-tiny", messages: [{ role: "user", content: "hi" }] }) });`,
    "",
    ...(ready.providers[0]
      ? [
          `  curl -s ${ready.providers[0].url}/v1/chat/completions -H 'content-type: application/json' \\`,
          `    -d '{"model":"verity-tiny","messages":[{"role":"user","content":"hi"}]}'   # → 402 with how to pay`,
          `  curl -s ${ready.providers[0].url}/v1/models`,
        ]
      : []),
    "",
    "Funded test accounts (DEVNET ONLY — these keys are public, never send real funds to them):",
    ...ready.accounts.map((a) => `  ${a.name.padEnd(12)} ${a.address}  ${a.privateKey}`),
    "",
    "Press Ctrl-C to stop.",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}
