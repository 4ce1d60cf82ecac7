import { createEdrChain, createRpcServer, DEVNET_MNEMONIC, devnetAccounts } from "@verity/chain";
import { ConfigError } from "@verity/core";
import type { Command } from "commander";
import { bytesToHex, parseEther } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { parseInteger } from "../parse-flags.ts";
import { createProgress } from "../progress.ts";
import { runCommand } from "../run-command.ts";

type ChainFlags = { host: string; port: string; chainId: string; accounts?: string; balance: string; json?: boolean };

/** Dev accounts: the devnet's named roles first, then `account-<i>` from the same public mnemonic. */
export function chainAccounts(count: number): { name: string; address: `0x${string}`; privateKey: `0x${string}` }[] {
  const named = devnetAccounts().map((a) => ({ name: a.name, address: a.address, privateKey: a.privateKey }));
  const out = named.slice(0, count);
  for (let index = out.length; index < count; index++) {
    const account = mnemonicToAccount(DEVNET_MNEMONIC, { addressIndex: index });
    const key = account.getHdKey().privateKey;
    if (!key) throw new Error("HD derivation produced no private key");
    out.push({ name: `account-${index}`, address: account.address, privateKey: bytesToHex(key) });
  }
  return out;
}

export function registerChain(program: Command): void {
  program
    .command("chain")
    .description("Run a bare embedded EVM chain (Hardhat EDR) over JSON-RPC with funded dev accounts, no contracts")
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .option("--port <port>", "JSON-RPC port (0 = any free port)", "8545")
    .option("--chain-id <id>", "chain id to report", "31337")
    .option("--accounts <n>", "funded dev accounts (default: the devnet's 21 role accounts)")
    .option("--balance <eth>", "native currency per account", "10000")
    .option("--json", "print one ready line as JSON on stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity chain --port 8545\n" +
        "  $ verity chain --port 9545 --chain-id 1337 --accounts 5 --json\n" +
        "  $ verity deploy --rpc http://127.0.0.1:8545 --key-file deployer.key --out deployment.json\n\n" +
        "The dev keys come from the public test mnemonic: DEVNET ONLY. Stop it with Ctrl-C.",
    )
    .action(async (flags: ChainFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const progress = createProgress({ quiet: json });
        const chainId = parseInteger("--chain-id", flags.chainId, 1);
        const port = parseInteger("--port", flags.port);
        if (port > 65_535) throw new ConfigError("--port must be at most 65535", { code: "invalid_parameter" });
        const count =
          flags.accounts === undefined ? devnetAccounts().length : parseInteger("--accounts", flags.accounts, 1);
        if (!/^\d+(\.\d+)?$/.test(flags.balance)) {
          throw new ConfigError(`--balance must be an amount of ETH, got ${JSON.stringify(flags.balance)}`, {
            code: "invalid_parameter",
            hint: "For example --balance 10000",
          });
        }
        const balance = parseEther(flags.balance);
        const accounts = chainAccounts(count);
        const chain = await progress.step(`start chain ${chainId}`, () =>
          createEdrChain({ chainId, accounts: accounts.map((a) => ({ privateKey: a.privateKey, balance })) }),
        );
        const server = createRpcServer({ provider: chain.provider, host: flags.host, port });
        let rpcUrl: string;
        try {
          rpcUrl = await server.start();
        } catch (error) {
          await chain.close();
          throw error;
        }
        let stopping = false;
        const shutdown = async () => {
          if (stopping) return;
          stopping = true;
          await server.stop();
          await chain.close();
          process.exit(0);
        };
        process.on("SIGINT", () => void shutdown());
        process.on("SIGTERM", () => void shutdown());
        if (json) {
          process.stdout.write(`${JSON.stringify({ event: "ready", rpcUrl, chainId, accounts, devnetOnly: true })}\n`);
        } else {
          const lines = [
            `chain ${chainId} at ${rpcUrl} (no contracts: deploy with \`verity deploy --rpc ${rpcUrl} --key-file <file>\`)`,
            "",
            `Funded dev accounts, ${flags.balance} ETH each (DEVNET ONLY — these keys are public):`,
            ...accounts.map((a) => `  ${a.name.padEnd(12)} ${a.address}  ${a.privateKey}`),
            "",
            "Press Ctrl-C to stop.",
          ];
          process.stdout.write(`${lines.join("\n")}\n`);
        }
        await new Promise(() => {}); // serve until a signal arrives
      });
    });
}
