import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { encryptKeystore } from "@verity/chain";
import { testUSDAbi } from "@verity/contracts";
import { ChainError, ConfigError } from "@verity/core";
import type { Command } from "commander";
import { formatEther } from "viem";
import { generatePrivateKey } from "viem/accounts";
import { type ChainFlags, openChainContext, targetAddress } from "../chain-context.ts";
import { addChainOptions } from "../chain-options.ts";
import { openEscrow } from "../escrow.ts";
import { formatAmount } from "../format-amount.ts";
import { parseAmount } from "../parse-flags.ts";
import { readPassword } from "../read-password.ts";
import { runCommand } from "../run-command.ts";

/** TestUSD's per-call faucet limit (1,000,000 TUSD). */
const FAUCET_LIMIT = 1_000_000n * 10n ** 6n;

export function registerWallet(program: Command): void {
  const wallet = program
    .command("wallet")
    .description("Keys and funds: create an encrypted keystore, show balances, get devnet TestUSD")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity wallet new --out me.json\n  $ VERITY_KEYSTORE=me.json verity wallet balance\n  $ verity wallet faucet 0x… --amount 100 --key-file deployer.key",
    );

  wallet
    .command("new")
    .description("Create a new key in an encrypted keystore (Web3 Secret Storage v3, as geth/cast/MetaMask use)")
    .requiredOption("--out <file>", "where to write the keystore (refuses to overwrite)")
    .option(
      "--password-file <file>",
      "read the password from this file's first line (else VERITY_PASSWORD, else asked)",
    )
    .option("--json", "print one JSON line with the address")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity wallet new --out provider.json          # asks for the password\n" +
        "  $ VERITY_PASSWORD=… verity wallet new --out ci.json --json\n" +
        "  Use it with --keystore provider.json (password in VERITY_KEYSTORE_PASSWORD).",
    )
    .action(async (flags: { out: string; passwordFile?: string; json?: boolean }) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const out = resolve(flags.out);
        const password = await readPassword({
          passwordFile: flags.passwordFile,
          envVars: ["VERITY_PASSWORD", "VERITY_KEYSTORE_PASSWORD"],
          confirm: true,
          flagHint: "--password-file <file>",
        });
        const keystore = await encryptKeystore({ privateKey: generatePrivateKey(), password });
        try {
          writeFileSync(out, `${JSON.stringify(keystore, null, 2)}\n`, { flag: "wx", mode: 0o600 });
        } catch (cause) {
          const exists = (cause as NodeJS.ErrnoException).code === "EEXIST";
          throw new ConfigError(exists ? `${out} already exists` : `Cannot write ${out}`, {
            code: "invalid_parameter",
            hint: exists ? "Pick another --out; an existing keystore is never overwritten" : "Check the folder exists",
            cause,
          });
        }
        const address = `0x${keystore.address}`;
        if (json) process.stdout.write(`${JSON.stringify({ event: "wallet", address, file: out })}\n`);
        else process.stdout.write(`new key ${address} in ${out} — keep the file and its password safe\n`);
      });
    });

  addChainOptions(
    wallet
      .command("balance [address]")
      .description("Native currency, payment token and escrow held in open channels of an address"),
    { key: "use this key's address when no address is given" },
  )
    .option("--json", "print one JSON object (amounts in base units)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity wallet balance 0x70997970C51812dc3A010C7d01b50e0d17dc79C8\n  $ VERITY_KEY=0x… verity wallet balance --json",
    )
    .action(async (address: string | undefined, flags: ChainFlags & { json?: boolean }) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const { deployment, clients, account } = await openChainContext({ ...flags, needKey: false });
        const owner = targetAddress({ address, account });
        const { publicClient } = clients;
        const [eth, token, escrow] = await Promise.all([
          clients.publicClient.getBalance({ address: owner }),
          clients.publicClient.readContract({
            address: deployment.token.address,
            abi: testUSDAbi,
            functionName: "balanceOf",
            args: [owner],
          }),
          openEscrow({ publicClient, deployment, payer: owner }),
        ]);
        const symbol = deployment.token.symbol;
        if (json) {
          const line = {
            event: "balance",
            address: owner,
            eth: eth.toString(),
            token: { symbol, decimals: deployment.token.decimals, balance: token.toString() },
            escrow: escrow.total.toString(),
            channels: escrow.channels.length,
          };
          process.stdout.write(`${JSON.stringify(line)}\n`);
          return;
        }
        const d = deployment.token.decimals;
        process.stdout.write(
          `${owner}\n  ETH      ${formatEther(eth)}\n  ${symbol.padEnd(8)} ${formatAmount(token, d)}\n` +
            `  escrow   ${formatAmount(escrow.total, d)} ${symbol} in ${escrow.channels.length} open channel(s)\n`,
        );
      });
    });

  addChainOptions(
    wallet.command("faucet [address]").description("Mint TestUSD from the devnet faucet (devnets only)"),
    { key: "key that sends the faucet transaction (pays gas)" },
  )
    .option("--amount <amount>", "TestUSD to mint (at most 1,000,000 per call)", "1000")
    .option("--json", "print one JSON line")
    .addHelpText(
      "after",
      "\nExamples:\n  $ VERITY_KEY=0x… verity wallet faucet --amount 500\n  $ verity wallet faucet 0x… --key-file deployer.key --json",
    )
    .action(async (address: string | undefined, flags: ChainFlags & { amount: string; json?: boolean }) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const { deployment, clients, account } = await openChainContext({ ...flags, needKey: true });
        const to = targetAddress({ address, account });
        const amount = parseAmount("--amount", flags.amount, deployment.token.decimals);
        if (amount <= 0n || amount > FAUCET_LIMIT) {
          throw new ConfigError(`--amount must be above 0 and at most ${formatAmount(FAUCET_LIMIT)}`, {
            code: amount <= 0n ? "invalid_parameter" : "faucet_limit_exceeded",
            hint: "Call the faucet again for more",
          });
        }
        const token = deployment.token.address;
        const enabled =
          deployment.contracts.TestUSD !== undefined &&
          (await clients.publicClient
            .readContract({ address: token, abi: testUSDAbi, functionName: "faucetEnabled" })
            .catch(() => false));
        if (!enabled) {
          throw new ChainError(
            `The payment token ${deployment.token.symbol} on chain ${deployment.chainId} has no faucet`,
            {
              code: "faucet_disabled",
              hint: "The faucet exists only on devnet deployments of TestUSD; get the token from an exchange or its issuer",
            },
          );
        }
        const receipt = await clients.transact("Minting from the faucet", () =>
          clients.walletClient.writeContract({
            address: token,
            abi: testUSDAbi,
            functionName: "faucet",
            args: [to, amount],
            chain: clients.chain,
            account: clients.account,
          }),
        );
        if (json) {
          const line = { event: "faucet", address: to, amount: amount.toString(), txHash: receipt.transactionHash };
          process.stdout.write(`${JSON.stringify(line)}\n`);
        } else {
          process.stdout.write(
            `minted ${formatAmount(amount, deployment.token.decimals)} ${deployment.token.symbol} to ${to}\n`,
          );
        }
      });
    });
}
