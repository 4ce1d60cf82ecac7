import { paymentChannelsAbi } from "@verity/contracts";
import type { Command } from "commander";
import { formatUnits, parseEventLogs } from "viem";
import { type ChainFlags, openChainContext, parseAddress } from "../chain-context.ts";
import { addChainOptions } from "../chain-options.ts";
import { runCommand } from "../run-command.ts";

type WithdrawFlags = ChainFlags & { to?: string; json?: boolean };

/**
 * `verity model withdraw-royalties`: claims credit every royalty to the model's owner inside
 * PaymentChannels; this pays the key's credited royalties (of all its models) to `--to` (default:
 * the key's own address) in one transfer.
 */
export function registerModelWithdrawRoyalties(model: Command): void {
  addChainOptions(
    model
      .command("withdraw-royalties")
      .description("Withdraw the royalties claims credited to the key's models (one transfer for all of them)"),
    { key: "model owner's private key" },
  )
    .option("--to <address>", "where to pay them (default: the owner's address)")
    .option("--json", "print one JSON line")
    .addHelpText(
      "after",
      "\nExamples:\n  $ VERITY_KEY=0x… verity model withdraw-royalties\n  $ verity model withdraw-royalties --keystore owner.json --to 0x… --json",
    )
    .action(async (flags: WithdrawFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const { deployment, clients } = await openChainContext({ ...flags, needKey: true });
        const owner = clients.account.address;
        const to = flags.to === undefined ? owner : parseAddress("--to", flags.to);
        const address = deployment.contracts.PaymentChannels.address;
        const credit = await clients.publicClient.readContract({
          address,
          abi: paymentChannelsAbi,
          functionName: "creditOf",
          args: [owner],
        });
        if (credit === 0n) {
          const line = { event: "nothing_to_withdraw", owner, amount: "0" };
          if (json) process.stdout.write(`${JSON.stringify(line)}\n`);
          else process.stdout.write(`${owner}: no royalties to withdraw\n`);
          return;
        }
        const receipt = await clients.transact("Withdrawing royalties", () =>
          clients.walletClient.writeContract({
            address,
            abi: paymentChannelsAbi,
            functionName: "withdrawCredits",
            args: [to],
            chain: clients.chain,
            account: clients.account,
          }),
        );
        const [event] = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "CreditsWithdrawn" });
        const amount = event?.args.amount ?? 0n;
        const line = { event: "withdrawn", owner, to, amount: amount.toString(), txHash: receipt.transactionHash };
        if (json) process.stdout.write(`${JSON.stringify(line)}\n`);
        else process.stdout.write(`withdrew ${formatUnits(amount, 6)} in royalties to ${to}\n`);
      });
    });
}
