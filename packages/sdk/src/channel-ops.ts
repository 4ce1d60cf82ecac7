/**
 * Channel transactions, each one transaction sent by the payer: `openWithPermit` and
 * `topUpWithPermit` carry an EIP-2612 permit the payer signs for exactly the amount (no separate
 * approval), `initiateWithdraw` starts the withdraw delay, `finalizeWithdraw` returns the unclaimed
 * rest after it. A channel is recorded as `opening` before its transaction is sent, so a crash in
 * between is reconciled from the chain at the next start.
 */
import { randomBytes } from "node:crypto";
import { type ChainClients, createChannelReader, currentReceiverSigner } from "@verity/chain";
import { paymentChannelsAbi, testUSDAbi } from "@verity/contracts";
import { type ChannelConfig, ConfigError, type Deployment, PaymentError, permitTypes } from "@verity/core";
import { type LocalAccount, parseEventLogs, parseSignature } from "viem";
import { type ChannelStore, channelConfigOf, type StoredChannel } from "./channel-store.ts";

export type OpenChannelArgs = { agentId: bigint; modelId: bigint; amount: bigint; withdrawDelay?: bigint };

export function createChannelOps(deps: {
  clients: ChainClients;
  /** The payer's key (signs permits; `clients` sends its transactions). */
  payer: LocalAccount;
  deployment: Deployment;
  store: ChannelStore;
  /** Address of the hot key that signs vouchers (the channels' payerAuthorizer). */
  authorizer: `0x${string}`;
}) {
  const { clients, deployment, store } = deps;
  const payer = clients.account.address;
  const channels = deployment.contracts.PaymentChannels.address;
  const token = deployment.token.address;
  const reader = createChannelReader({
    publicClient: clients.publicClient,
    paymentChannels: channels,
    fromBlock: BigInt(deployment.startBlock),
  });

  /** The terms of `channelId` (every PaymentChannels call passes them): stored, else from its `ChannelOpened`. */
  async function configFor(channelId: `0x${string}`): Promise<ChannelConfig> {
    const stored = store.get(channelId);
    if (stored && stored.receiverSigner !== null) return channelConfigOf(stored);
    const config = await reader.configOf(channelId);
    if (!config) {
      throw new PaymentError(`Channel ${channelId} is not open on this PaymentChannels`, {
        code: "channel_not_found",
        details: { channelId },
      });
    }
    return config;
  }

  async function chainNow(): Promise<bigint> {
    return (await clients.publicClient.getBlock({ blockTag: "latest" })).timestamp;
  }

  function requirePositive(amount: bigint, what: string): void {
    if (amount <= 0n) {
      throw new ConfigError(`The ${what} amount must be positive`, {
        code: "invalid_parameter",
        hint: "Amounts are in token base units",
      });
    }
  }

  async function requireBalance(amount: bigint, what: string): Promise<void> {
    const balance = await clients.publicClient.readContract({
      address: token,
      abi: testUSDAbi,
      functionName: "balanceOf",
      args: [payer],
    });
    if (balance < amount) {
      throw new PaymentError(
        `The payer ${payer} holds ${balance} ${deployment.token.symbol} base units, not the ${amount} needed to ${what}`,
        {
          code: "erc20_insufficient_balance",
          hint: `Fund ${payer} with ${deployment.token.symbol}, or use a smaller amount`,
          details: { payer, balance: balance.toString(), needed: amount.toString() },
        },
      );
    }
    await clients.requireFunds({ gas: 400_000n, what });
  }

  /** An EIP-2612 permit for PaymentChannels to pull exactly `amount` from the payer. */
  async function signPermit(amount: bigint) {
    const [nonce, now] = await Promise.all([
      clients.publicClient.readContract({ address: token, abi: testUSDAbi, functionName: "nonces", args: [payer] }),
      chainNow(),
    ]);
    const deadline = now + 3_600n;
    const signature = await deps.payer.signTypedData({
      domain: {
        name: deployment.token.name,
        version: deployment.token.version,
        chainId: deployment.chainId,
        verifyingContract: token,
      },
      types: permitTypes,
      primaryType: "Permit",
      message: { owner: payer, spender: channels, value: amount, nonce, deadline },
    });
    const { r, s, v, yParity } = parseSignature(signature);
    return { deadline, v: Number(v ?? BigInt(yParity + 27)), r, s };
  }

  async function refresh(channelId: `0x${string}`): Promise<StoredChannel | undefined> {
    const stored = store.get(channelId);
    if (!stored) return undefined;
    const view = await clients.publicClient.readContract({
      address: channels,
      abi: paymentChannelsAbi,
      functionName: "getChannel",
      args: [await configFor(channelId)],
    });
    if (/^0x0{40}$/i.test(view.payer)) {
      if (stored.state === "opening") store.remove(channelId);
      return store.get(channelId);
    }
    if (stored.state === "opening") store.markOpen(channelId, view.deposit);
    else store.setDeposit(channelId, view.deposit);
    store.setWithdrawableAt(channelId, view.withdrawableAt === 0n ? null : Number(view.withdrawableAt));
    if (view.closed && stored.state !== "closed") store.markClosed(channelId, null);
    return store.get(channelId);
  }

  async function openChannel(args: OpenChannelArgs): Promise<StoredChannel & { txHash: `0x${string}` }> {
    requirePositive(args.amount, "channel");
    await requireBalance(args.amount, "open a channel");
    const config: ChannelConfig = {
      payer,
      payerAuthorizer: deps.authorizer,
      receiverAgentId: args.agentId,
      modelId: args.modelId,
      token,
      withdrawDelay: args.withdrawDelay ?? BigInt(deployment.params.minWithdrawDelay),
      salt: `0x${randomBytes(32).toString("hex")}`,
      // PaymentChannels checks this is the agent's receipt signer now (its wallet, else owner).
      receiverSigner: await currentReceiverSigner({
        publicClient: clients.publicClient,
        agentRegistry: deployment.contracts.AgentRegistry.address,
        agentId: args.agentId,
      }),
    };
    const permit = await signPermit(args.amount);
    const channelId = store.addOpening(config, args.amount);
    let receipt: Awaited<ReturnType<typeof clients.transact>>;
    try {
      receipt = await clients.transact("Opening the channel", () =>
        clients.walletClient.writeContract({
          address: channels,
          abi: paymentChannelsAbi,
          functionName: "openWithPermit",
          args: [config, args.amount, permit.deadline, permit.v, permit.r, permit.s],
          chain: clients.chain,
          account: clients.account,
        }),
      );
    } catch (error) {
      await refresh(channelId).catch(() => undefined); // a transaction that did land is kept
      throw error;
    }
    store.markOpen(channelId, args.amount);
    const opened = store.get(channelId);
    if (!opened) throw new PaymentError("The opened channel vanished from the store", { code: "internal_error" });
    return { ...opened, txHash: receipt.transactionHash };
  }

  async function topUp(args: { channelId: `0x${string}`; amount: bigint }) {
    requirePositive(args.amount, "top-up");
    await requireBalance(args.amount, "top up the channel");
    const permit = await signPermit(args.amount);
    const config = await configFor(args.channelId);
    const receipt = await clients.transact("Topping up the channel", () =>
      clients.walletClient.writeContract({
        address: channels,
        abi: paymentChannelsAbi,
        functionName: "topUpWithPermit",
        args: [config, args.amount, permit.deadline, permit.v, permit.r, permit.s],
        chain: clients.chain,
        account: clients.account,
      }),
    );
    const [event] = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "ChannelToppedUp" });
    const deposit = event?.args.deposit ?? 0n;
    if (store.get(args.channelId)) {
      store.setDeposit(args.channelId, deposit);
      store.setWithdrawableAt(args.channelId, null); // the payer's top-up cancels a pending withdrawal
    }
    return { channelId: args.channelId, deposit, txHash: receipt.transactionHash };
  }

  /** Starts the withdraw delay (`initiateWithdraw`); the provider can still claim until it ends. */
  async function closeChannel(args: { channelId: `0x${string}` }) {
    const config = await configFor(args.channelId);
    const receipt = await clients.transact("Initiating the withdrawal", () =>
      clients.walletClient.writeContract({
        address: channels,
        abi: paymentChannelsAbi,
        functionName: "initiateWithdraw",
        args: [config],
        chain: clients.chain,
        account: clients.account,
      }),
    );
    const [event] = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "WithdrawInitiated" });
    const withdrawableAt = Number(event?.args.withdrawableAt ?? 0n);
    if (store.get(args.channelId)) store.setWithdrawableAt(args.channelId, withdrawableAt);
    return { channelId: args.channelId, withdrawableAt, txHash: receipt.transactionHash };
  }

  /** After the delay: refunds `deposit - claimed` to the payer and closes the channel. */
  async function finalizeWithdraw(args: { channelId: `0x${string}` }) {
    const config = await configFor(args.channelId);
    const receipt = await clients.transact("Finalizing the withdrawal", () =>
      clients.walletClient.writeContract({
        address: channels,
        abi: paymentChannelsAbi,
        functionName: "finalizeWithdraw",
        args: [config],
        chain: clients.chain,
        account: clients.account,
      }),
    );
    const [event] = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "WithdrawFinalized" });
    const refund = event?.args.refund ?? 0n;
    if (store.get(args.channelId)) store.markClosed(args.channelId, refund);
    return { channelId: args.channelId, refund, txHash: receipt.transactionHash };
  }

  /**
   * `closeChannel` (unless a withdrawal is already pending), then waits until chain time reaches
   * the withdrawable time (polling the latest block every `pollMs`, default 5 s) and finalizes.
   */
  async function closeAndWithdraw(args: { channelId: `0x${string}`; pollMs?: number; signal?: AbortSignal }) {
    const view = await clients.publicClient.readContract({
      address: channels,
      abi: paymentChannelsAbi,
      functionName: "getChannel",
      args: [await configFor(args.channelId)],
    });
    const withdrawableAt =
      view.withdrawableAt === 0n
        ? BigInt((await closeChannel({ channelId: args.channelId })).withdrawableAt)
        : view.withdrawableAt;
    while ((await chainNow()) < withdrawableAt) {
      args.signal?.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, args.pollMs ?? 5_000));
    }
    return finalizeWithdraw({ channelId: args.channelId });
  }

  /** At start: settles channels left `opening` by a crash (opened on chain, or forgotten). */
  async function reconcileOpening(): Promise<void> {
    for (const channel of store.list({ state: "opening" })) await refresh(channel.channelId);
  }

  return { openChannel, topUp, closeChannel, finalizeWithdraw, closeAndWithdraw, refresh, reconcileOpening, chainNow };
}

export type ChannelOps = ReturnType<typeof createChannelOps>;
