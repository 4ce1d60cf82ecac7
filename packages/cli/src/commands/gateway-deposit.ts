import { ConfigError, type Deployment } from "@verity/core";
import { sendGatewayDeposit } from "@verity/gateway";
import type { Command } from "commander";
import { isAddress } from "viem";
import { type ChainFlags, openChainContext, parseAddress } from "../chain-context.ts";
import { addChainOptions } from "../chain-options.ts";
import { formatAmount } from "../format-amount.ts";
import { parseAmount } from "../parse-flags.ts";
import { createProgress } from "../progress.ts";
import { runCommand } from "../run-command.ts";

type DepositFlags = ChainFlags & { gateway: string; amount: string; for?: string; json?: boolean };

/**
 * `verity gateway deposit`: funds a prepaid balance at a gateway through the deployment's
 * GatewayDeposits contract (permit + deposit, one transaction). A plain transfer to the gateway's
 * address credits nothing.
 */
export function registerGatewayDeposit(gateway: Command): void {
  addChainOptions(
    gateway
      .command("deposit")
      .description("Fund a prepaid balance at a gateway (what its API keys spend) through GatewayDeposits"),
    { key: "depositor's private key" },
  )
    .requiredOption("--gateway <address|url>", "the gateway's address, or its URL (its /health names the address)")
    .requiredOption("--amount <amount>", "amount in the payment token (e.g. 10 = 10 TUSD)")
    .option("--for <account>", "account whose balance is credited (default: the depositor's address)")
    .option("--json", "print one JSON line")
    .addHelpText(
      "after",
      "\nA plain token transfer to a gateway's address is NOT a deposit and credits nothing: deposit with this\n" +
        "command or the GatewayDeposits contract. API keys bound to the credited account spend the balance.\n" +
        "\nExamples:\n  $ verity gateway deposit --gateway http://127.0.0.1:8546 --amount 10 --key-file me.key\n" +
        "  $ verity gateway deposit --gateway 0x… --amount 25 --for 0x… --keystore me.json --json",
    )
    .action(async (flags: DepositFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const progress = createProgress({ quiet: json });
        const amountText = flags.amount;
        const forAccount = flags.for === undefined ? undefined : parseAddress("--for", flags.for);
        const context = await openChainContext({ ...flags, needKey: true });
        const { deployment } = context;
        const amount = parseAmount("--amount", amountText, deployment.token.decimals);
        const gatewayAddress = await progress.step("find the gateway", () =>
          resolveGateway({ gateway: flags.gateway, deployment }),
        );
        const result = await progress.step("deposit", () =>
          sendGatewayDeposit({
            clients: context.clients,
            deployment,
            gateway: gatewayAddress,
            amount,
            ...(forAccount ? { account: forAccount } : {}),
          }),
        );
        const line = {
          event: "deposited",
          gateway: result.gateway,
          account: result.account,
          from: context.clients.account.address,
          amount: result.amount.toString(),
          txHash: result.txHash,
          block: result.block.toString(),
        };
        if (json) process.stdout.write(`${JSON.stringify(line)}\n`);
        else
          process.stdout.write(
            `deposited ${formatAmount(amount, deployment.token.decimals)} ${deployment.token.symbol} at gateway ${result.gateway} for ${result.account} (tx ${result.txHash}); it credits after the gateway's confirmations\n`,
          );
      });
    });
}

/** The gateway's address: given, or read from `<url>/health` and checked against the deployment. */
async function resolveGateway(args: { gateway: string; deployment: Deployment }): Promise<`0x${string}`> {
  if (isAddress(args.gateway, { strict: false })) return parseAddress("--gateway", args.gateway);
  if (!/^https?:\/\/\S+$/.test(args.gateway)) {
    throw new ConfigError(`--gateway is neither an address nor an http(s) URL: ${JSON.stringify(args.gateway)}`, {
      code: "invalid_parameter",
      hint: "Pass the gateway's 0x address or its URL, e.g. --gateway http://127.0.0.1:8546",
    });
  }
  const url = `${args.gateway.replace(/\/+$/, "").replace(/\/v1$/, "")}/health`;
  let body: { address?: unknown; depositsContract?: unknown; chainId?: unknown };
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    body = (await response.json()) as typeof body;
  } catch (cause) {
    throw new ConfigError(`The gateway at ${url} did not answer with its address`, {
      code: "gateway_unreachable",
      hint: "Check the URL and that the gateway runs, or pass its 0x address with --gateway",
      cause,
    });
  }
  if (typeof body.address !== "string" || !isAddress(body.address, { strict: false })) {
    throw new ConfigError(`${url} does not name a gateway address`, {
      code: "gateway_unreachable",
      hint: "Pass the gateway's 0x address with --gateway",
    });
  }
  const expected = args.deployment.contracts.GatewayDeposits?.address.toLowerCase();
  if (
    body.chainId !== args.deployment.chainId ||
    typeof body.depositsContract !== "string" ||
    body.depositsContract.toLowerCase() !== expected
  ) {
    throw new ConfigError(
      `The gateway at ${args.gateway} follows another deployment than ${args.deployment.chainId}'s file`,
      {
        code: "deployment_mismatch",
        hint: "Use the deployment file the gateway runs with (--deployment), or the right gateway URL",
        details: { chainId: body.chainId, depositsContract: body.depositsContract },
      },
    );
  }
  return parseAddress("--gateway", body.address);
}
