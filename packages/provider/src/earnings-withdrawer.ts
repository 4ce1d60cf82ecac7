import { type ChainClients, toChainError } from "@verity/chain";
import { paymentChannelsAbi } from "@verity/contracts";
import { parseEventLogs } from "viem";

export type PayoutPolicy = {
  /** Withdraw once the agent's credited earnings reach this many base units (default 10 TUSD). */
  minAmount: bigint;
  /** …or once this many ms passed since the last withdrawal with anything credited (default 1 hour). */
  maxIntervalMs: number;
};

/**
 * A withdrawal costs ≈ 53k gas and saves each claim transaction ≈ 26k (the transfers a claim no
 * longer makes), so it pays to withdraw once per several claims: the default is 10 claim rounds at
 * the claimer's 1-TUSD threshold, or hourly (≥ 6 rounds at its 10-minute age limit).
 */
export const DEFAULT_PAYOUT_POLICY: PayoutPolicy = { minAmount: 10_000_000n, maxIntervalMs: 60 * 60_000 };

export type WithdrawReport = {
  txHash: `0x${string}`;
  /** What the withdrawal paid. */
  amount: bigint;
  /** Where it went: the agent's wallet, else its owner. */
  to: `0x${string}`;
};

/**
 * Gets the provider paid: claims only credit the provider's share to the agent inside
 * PaymentChannels, and `withdrawEarnings(agentId)` pays all of it to the agent's wallet in one
 * transfer. Withdraws when the credited earnings reach `minAmount` or `maxIntervalMs` passed since
 * the last withdrawal, and on demand. Calls are serialised and nothing is sent when nothing is
 * credited; a withdrawal another sender won meanwhile (`NothingToWithdraw`, nothing was sent by
 * this one that pays) counts as nothing to do. What a withdrawal paid is read from its
 * `EarningsWithdrawn` event. The sender must be the agent's owner, an approved
 * operator or its agent wallet (the same key that claims).
 */
export function createEarningsWithdrawer(options: {
  clients: ChainClients;
  paymentChannels: `0x${string}`;
  agentId: bigint;
  policy?: Partial<PayoutPolicy>;
  now?: () => number;
  onWithdraw?: (report: WithdrawReport) => void;
}) {
  const policy = { ...DEFAULT_PAYOUT_POLICY, ...options.policy };
  const now = options.now ?? Date.now;
  const { clients, paymentChannels, agentId } = options;
  let lastWithdrawAt = now();
  let running: Promise<WithdrawReport | undefined> | undefined;

  /** The agent's earnings credited by claims and not withdrawn yet, in base units. */
  async function earnings(): Promise<bigint> {
    const [credited] = await clients.publicClient.readContract({
      address: paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "earningsOf",
      args: [agentId],
    });
    return credited;
  }

  async function withdrawOnce(force: boolean): Promise<WithdrawReport | undefined> {
    const credited = await earnings();
    if (credited === 0n) return undefined;
    if (!force && credited < policy.minAmount && now() - lastWithdrawAt < policy.maxIntervalMs) return undefined;
    let hash: `0x${string}`;
    try {
      hash = await clients.walletClient.writeContract({
        address: paymentChannels,
        abi: paymentChannelsAbi,
        functionName: "withdrawEarnings",
        args: [agentId],
        chain: clients.chain,
        account: clients.account,
      });
    } catch (error) {
      const chainError = toChainError("Withdrawing earnings", error);
      // Another sender (a second process, `verity provider withdraw`) withdrew it meanwhile.
      if (chainError.details.error === "NothingToWithdraw") return undefined;
      throw chainError;
    }
    const receipt = await clients.publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") {
      // Both sent before either was mined: the other one paid everything, this one paid nothing.
      if ((await earnings()) === 0n) return undefined;
      throw new Error(`withdrawal transaction ${hash} reverted`);
    }
    lastWithdrawAt = now();
    const [event] = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "EarningsWithdrawn" });
    const report = { txHash: hash, amount: event?.args.amount ?? 0n, to: event?.args.to ?? clients.account.address };
    options.onWithdraw?.(report);
    return report;
  }

  /** One withdrawal round (serialised); `force` withdraws whatever is credited, ignoring the policy. */
  function withdraw(force = false): Promise<WithdrawReport | undefined> {
    const previous = running ?? Promise.resolve(undefined);
    const next = previous.catch(() => undefined).then(() => withdrawOnce(force));
    running = next;
    return next.finally(() => {
      if (running === next) running = undefined;
    });
  }

  return {
    earnings,
    /** Withdraws if the policy says it is due (earnings ≥ `minAmount`, or `maxIntervalMs` passed). */
    withdrawIfDue: () => withdraw(false),
    /** Withdraws whatever is credited now (nothing is sent when nothing is). */
    withdrawNow: () => withdraw(true),
    /** Whether `maxIntervalMs` passed since the last withdrawal (a round should look at the chain). */
    intervalElapsed: () => now() - lastWithdrawAt >= policy.maxIntervalMs,
  };
}

export type EarningsWithdrawer = ReturnType<typeof createEarningsWithdrawer>;
