import { createChannelReader } from "@verity/chain";
import { ConfigError, PaymentError } from "@verity/core";
import type { Command } from "commander";
import { type ChainContext, type ChainFlags, openChainContext } from "../chain-context.ts";
import { addChainOptions } from "../chain-options.ts";
import { DEFAULT_CLIENT_STATE_DIR, openChannelState, readStoredChannels } from "../channel-state.ts";
import { formatAmount } from "../format-amount.ts";
import { resolveModel } from "../models.ts";
import { parseAmount, parseDuration, parseInteger } from "../parse-flags.ts";
import { runCommand } from "../run-command.ts";
import { formatTable } from "../table.ts";

type StateFlags = ChainFlags & { stateDir: string; json?: boolean };
type OpenFlags = StateFlags & { agent: string; model: string; amount: string; withdrawDelay?: string };

const write = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);

export function registerChannel(program: Command): void {
  const channel = program
    .command("channel")
    .description("Clients: open, inspect and close payment channels to a provider (shared with the SDK's state dir)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity channel open --agent 1 --model verity-tiny --amount 5\n  $ verity channel status\n  $ verity channel close 0x… && verity channel close 0x… --finalize",
    );
  const withState = (command: Command) =>
    addChainOptions(command, { key: "payer's private key" })
      .option("--state-dir <dir>", "client state dir (the SDK's createVerityClient stateDir)", DEFAULT_CLIENT_STATE_DIR)
      .option("--json", "print one JSON line");

  withState(
    channel.command("open").description("Open a channel to a provider (agent) for one model, funded with a permit"),
  )
    .requiredOption("--agent <id>", "the provider's agent id")
    .requiredOption("--model <name|id>", "registered model name or id (see `verity model list`)")
    .requiredOption("--amount <amount>", "escrow to deposit, in the payment token (e.g. 5 = 5 TUSD)")
    .option("--withdraw-delay <duration>", "delay between starting and finishing a withdrawal (default: the minimum)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ VERITY_KEY=0x… verity channel open --agent 1 --model verity-tiny --amount 5\n" +
        "  $ verity channel open --keystore me.json --agent 3 --model 2 --amount 20 --withdraw-delay 1h --json",
    )
    .action(async (flags: OpenFlags) => {
      await runCommand(flags.json === true, async () => {
        const agentId = BigInt(parseInteger("--agent", flags.agent, 1));
        const context = await openChainContext({ ...flags, needKey: true });
        const { deployment } = context;
        const amount = parseAmount("--amount", flags.amount, deployment.token.decimals);
        const model = await resolveModel({
          publicClient: context.clients.publicClient,
          deployment,
          model: flags.model,
        });
        const withdrawDelay =
          flags.withdrawDelay === undefined
            ? undefined
            : BigInt(Math.ceil(parseDuration("--withdraw-delay", flags.withdrawDelay) / 1000));
        const state = await openChannelState({ context, account: account(context), stateDir: flags.stateDir });
        try {
          const opened = await state.ops.openChannel({
            agentId,
            modelId: model.modelId,
            amount,
            ...(withdrawDelay === undefined ? {} : { withdrawDelay }),
          });
          const line = {
            event: "opened",
            channelId: opened.channelId,
            agentId: agentId.toString(),
            modelId: model.modelId.toString(),
            model: model.name,
            deposit: opened.deposit.toString(),
            authorizer: state.authorizer,
            withdrawDelay: opened.withdrawDelay.toString(),
            txHash: opened.txHash,
          };
          if (flags.json) write(line);
          else
            process.stdout.write(
              `channel ${opened.channelId} open to agent ${agentId} for ${model.name}: ${formatAmount(amount, deployment.token.decimals)} ${deployment.token.symbol}\n`,
            );
        } finally {
          state.close();
        }
      });
    });

  addChainOptions(
    channel.command("status [channelId]").description("Show channels: escrow, claimed, charged, withdrawal"),
    {},
  )
    .option("--state-dir <dir>", "client state dir whose channels to list", DEFAULT_CLIENT_STATE_DIR)
    .option("--json", "print one JSON object")
    .addHelpText("after", "\nExamples:\n  $ verity channel status\n  $ verity channel status 0x… --json")
    .action(async (channelId: string | undefined, flags: StateFlags) => {
      await runCommand(flags.json === true, async () => {
        const context = await openChainContext({ ...flags, needKey: false });
        const stored = readStoredChannels({ stateDir: flags.stateDir, deployment: context.deployment });
        const ids = channelId ? [parseChannelId(channelId)] : stored.map((c) => c.channelId);
        const now = Number((await context.clients.publicClient.getBlock({ blockTag: "latest" })).timestamp);
        const rows = [];
        for (const id of ids) {
          const view = await readChannel(context, id);
          const local = stored.find((c) => c.channelId.toLowerCase() === id.toLowerCase());
          rows.push({
            channelId: id,
            agentId: BigInt(view.receiverAgentId).toString(),
            modelId: BigInt(view.modelId).toString(),
            payer: view.payer,
            state: view.closed ? "closed" : view.withdrawableAt > 0n ? "withdrawing" : "open",
            deposit: view.deposit.toString(),
            claimed: view.claimed.toString(),
            charged: local ? local.charged.toString() : null,
            withdrawableAt: view.withdrawableAt > 0n ? Number(view.withdrawableAt) : null,
          });
        }
        if (flags.json) {
          write({ event: "channels", chainTime: now, channels: rows });
          return;
        }
        if (rows.length === 0) {
          process.stdout.write(`No channels in ${flags.stateDir} — open one with \`verity channel open\`\n`);
          return;
        }
        const d = context.deployment.token.decimals;
        const table = rows.map((r) => [
          r.channelId,
          r.agentId,
          r.modelId,
          r.state,
          formatAmount(BigInt(r.deposit), d),
          formatAmount(BigInt(r.claimed), d),
          r.charged === null ? "-" : formatAmount(BigInt(r.charged), d),
          r.withdrawableAt === null ? "-" : r.withdrawableAt <= now ? "now" : `in ${r.withdrawableAt - now} s`,
        ]);
        const columns = ["channel", "agent", "model", "state", "deposit", "claimed", "charged", "withdrawable"];
        process.stdout.write(`${formatTable({ columns, rows: table, right: ["deposit", "claimed", "charged"] })}\n`);
      });
    });

  withState(
    channel
      .command("close <channelId>")
      .description("Start withdrawing a channel's escrow; with --finalize, take the rest back after the delay"),
  )
    .option("--finalize", "after the withdraw delay: refund the unclaimed rest and close the channel")
    .addHelpText(
      "after",
      "\nExamples:\n  $ VERITY_KEY=0x… verity channel close 0x…            # the provider can still claim until the delay ends\n" +
        "  $ VERITY_KEY=0x… verity channel close 0x… --finalize # after the delay",
    )
    .action(async (rawId: string, flags: StateFlags & { finalize?: boolean }) => {
      await runCommand(flags.json === true, async () => {
        const channelId = parseChannelId(rawId);
        const context = await openChainContext({ ...flags, needKey: true });
        const payer = account(context).address;
        const view = await readChannel(context, channelId);
        if (view.closed) throw new PaymentError(`Channel ${channelId} is already closed`, { code: "channel_closed" });
        if (view.payer.toLowerCase() !== payer.toLowerCase()) {
          throw new PaymentError(`Only the channel's payer ${view.payer} can close it, not ${payer}`, {
            code: "not_payer",
            hint: "Use the payer's key (--key/--keystore)",
          });
        }
        const state = await openChannelState({ context, account: account(context), stateDir: flags.stateDir });
        try {
          if (!flags.finalize) {
            if (view.withdrawableAt > 0n) {
              throw new PaymentError(`The withdrawal of ${channelId} already started`, {
                code: "withdraw_already_initiated",
                hint: `Finish it with --finalize once chain time reaches ${iso(view.withdrawableAt)}`,
              });
            }
            const r = await state.ops.closeChannel({ channelId });
            if (flags.json) write({ event: "withdrawing", ...r });
            else
              process.stdout.write(
                `withdrawal of ${channelId} started; finish it with --finalize from ${iso(BigInt(r.withdrawableAt))}\n`,
              );
            return;
          }
          if (view.withdrawableAt === 0n) {
            throw new PaymentError(`No withdrawal of ${channelId} was started`, {
              code: "withdraw_not_initiated",
              hint: `Run \`verity channel close ${channelId}\` first, then --finalize after the delay`,
            });
          }
          const now = await state.ops.chainNow();
          if (now < view.withdrawableAt) {
            throw new PaymentError(`The withdraw delay of ${channelId} ends in ${view.withdrawableAt - now} s`, {
              code: "withdraw_not_ready",
              hint: `Run --finalize again once chain time reaches ${iso(view.withdrawableAt)}`,
            });
          }
          const r = await state.ops.finalizeWithdraw({ channelId });
          const { decimals, symbol } = context.deployment.token;
          if (flags.json) write({ event: "closed", channelId, refund: r.refund.toString(), txHash: r.txHash });
          else
            process.stdout.write(
              `channel ${channelId} closed; ${formatAmount(r.refund, decimals)} ${symbol} refunded\n`,
            );
        } finally {
          state.close();
        }
      });
    });
}

function account(context: ChainContext) {
  if (!context.account) throw new ConfigError("No signing key given", { code: "invalid_parameter" });
  return context.account;
}

function parseChannelId(value: string): `0x${string}` {
  if (!/^0x[0-9a-fA-F]{64}$/.test(value)) {
    throw new ConfigError(`${JSON.stringify(value)} is not a channel id`, {
      code: "invalid_parameter",
      hint: "A channel id is 0x followed by 64 hex digits (see `verity channel status`)",
    });
  }
  return value as `0x${string}`;
}

async function readChannel(context: ChainContext, channelId: `0x${string}`) {
  const view = await createChannelReader({
    publicClient: context.clients.publicClient,
    paymentChannels: context.deployment.contracts.PaymentChannels.address,
    fromBlock: BigInt(context.deployment.startBlock),
  }).read(channelId);
  if (view === undefined || /^0x0{40}$/i.test(view.payer)) {
    throw new PaymentError(`No channel ${channelId} on chain ${context.deployment.chainId}`, {
      code: "channel_not_found",
      hint: "Check the id with `verity channel status`, and --rpc/--deployment",
    });
  }
  return view;
}

function iso(seconds: bigint): string {
  return new Date(Number(seconds) * 1000).toISOString();
}
