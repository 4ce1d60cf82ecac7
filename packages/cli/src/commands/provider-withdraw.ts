import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { paymentChannelsAbi } from "@verity/contracts";
import { ConfigError } from "@verity/core";
import type { Command } from "commander";
import { formatUnits, parseEventLogs } from "viem";
import { type ChainFlags, openChainContext } from "../chain-context.ts";
import { addChainOptions } from "../chain-options.ts";
import { runCommand } from "../run-command.ts";

type WithdrawFlags = ChainFlags & { agentId?: string; dataDir: string; json?: boolean };

/** The agent id given, else the one the provider's data dir recorded at registration. */
function agentIdOf(flags: WithdrawFlags): bigint {
  if (flags.agentId !== undefined) {
    if (!/^\d+$/.test(flags.agentId)) {
      throw new ConfigError(`--agent-id must be a whole number, got ${JSON.stringify(flags.agentId)}`, {
        code: "invalid_parameter",
      });
    }
    return BigInt(flags.agentId);
  }
  const path = join(resolve(flags.dataDir), "state.json");
  if (!existsSync(path)) {
    throw new ConfigError(`No --agent-id given and no provider state at ${path}`, {
      code: "invalid_parameter",
      hint: "Pass --agent-id, or --data-dir of the provider",
    });
  }
  return BigInt((JSON.parse(readFileSync(path, "utf8")) as { agentId: string }).agentId);
}

/**
 * `verity provider withdraw`: claims only credit the provider's share to the agent inside
 * PaymentChannels; this pays all of it to the agent's wallet (else its owner) in one transfer. The
 * key must be the agent's owner, an approved operator or its agent wallet.
 */
export function registerProviderWithdraw(provider: Command): void {
  addChainOptions(
    provider
      .command("withdraw")
      .description("Withdraw the earnings claims credited to the provider's agent (to its wallet, else its owner)"),
    { key: "agent owner's, operator's or agent wallet's private key" },
  )
    .option("--agent-id <id>", "the agent (default: the one in --data-dir)")
    .option("--data-dir <dir>", "the provider's data dir", ".verity/provider")
    .option("--json", "print one JSON line")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity provider withdraw --data-dir .verity/provider\n  $ verity provider withdraw --agent-id 3 --json",
    )
    .action(async (flags: WithdrawFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const agentId = agentIdOf(flags);
        const { deployment, clients } = await openChainContext({ ...flags, needKey: true });
        const address = deployment.contracts.PaymentChannels.address;
        const [earnings] = await clients.publicClient.readContract({
          address,
          abi: paymentChannelsAbi,
          functionName: "earningsOf",
          args: [agentId],
        });
        if (earnings === 0n) {
          const line = { event: "nothing_to_withdraw", agentId: agentId.toString(), amount: "0" };
          if (json) process.stdout.write(`${JSON.stringify(line)}\n`);
          else process.stdout.write(`agent ${agentId}: nothing to withdraw\n`);
          return;
        }
        const receipt = await clients.transact(`Withdrawing the earnings of agent ${agentId}`, () =>
          clients.walletClient.writeContract({
            address,
            abi: paymentChannelsAbi,
            functionName: "withdrawEarnings",
            args: [agentId],
            chain: clients.chain,
            account: clients.account,
          }),
        );
        const [event] = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "EarningsWithdrawn" });
        const line = {
          event: "withdrawn",
          agentId: agentId.toString(),
          amount: (event?.args.amount ?? 0n).toString(),
          to: event?.args.to,
          txHash: receipt.transactionHash,
        };
        if (json) process.stdout.write(`${JSON.stringify(line)}\n`);
        else process.stdout.write(`withdrew ${formatUnits(event?.args.amount ?? 0n, 6)} to ${line.to}\n`);
      });
    });
}
