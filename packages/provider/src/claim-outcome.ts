import { paymentChannelsAbi } from "@verity/contracts";
import { contractErrorReason, type ReasonCode } from "@verity/core";
import { type Log, parseEventLogs, toFunctionSelector } from "viem";
import { formatAbiItem } from "viem/utils";

/**
 * Errors a claim of a batch can fail with and be skipped for (`ClaimSkipped(channelId, selector)`);
 * a batch in which every claim fails reverts with the first one's error instead.
 */
export const SKIPPABLE_CLAIM_ERRORS = [
  "ChannelNotFound",
  "ChannelClosed",
  "ClaimAboveVoucher",
  "VoucherNotIncreasing",
  "VoucherSignatureInvalid",
  "NothingToClaim",
] as const;
export type SkippableClaimError = (typeof SKIPPABLE_CLAIM_ERRORS)[number];

const bySelector = new Map<string, SkippableClaimError>(
  paymentChannelsAbi
    .filter((item) => item.type === "error")
    .filter((item) => (SKIPPABLE_CLAIM_ERRORS as readonly string[]).includes(item.name))
    .map((item) => [toFunctionSelector(formatAbiItem(item)), item.name as SkippableClaimError]),
);

/** The skippable error a `ClaimSkipped` selector names, or undefined for a selector this build does not know. */
export function skippedErrorOf(selector: string): SkippableClaimError | undefined {
  return bySelector.get(selector.toLowerCase());
}

export function isSkippableClaimError(name: string | undefined): name is SkippableClaimError {
  return name !== undefined && (SKIPPABLE_CLAIM_ERRORS as readonly string[]).includes(name);
}

/** The stable reason code recorded for a skipped claim (`voucher_signature_invalid`, …). */
export function skipReasonCode(error: SkippableClaimError | undefined): ReasonCode {
  return contractErrorReason(error);
}

export type ClaimOutcome = {
  /** Channel → its new claimed total on-chain, for every claim the transaction paid. */
  paid: Map<`0x${string}`, { claimed: bigint; increase: bigint }>;
  /** Channel → the error it was skipped for (undefined: a selector this build does not know). */
  skipped: Map<`0x${string}`, SkippableClaimError | undefined>;
};

/** What a mined `claim` transaction paid and skipped, read from its PaymentChannels events. */
export function claimOutcome(options: { logs: readonly Log[]; paymentChannels: `0x${string}` }): ClaimOutcome {
  const address = options.paymentChannels.toLowerCase();
  const logs = options.logs.filter((log) => log.address.toLowerCase() === address);
  const outcome: ClaimOutcome = { paid: new Map(), skipped: new Map() };
  for (const event of parseEventLogs({ abi: paymentChannelsAbi, logs, eventName: ["Claimed", "ClaimSkipped"] })) {
    if (event.eventName === "Claimed") {
      const { channelId, cumulativeAmount, increase } = event.args;
      outcome.paid.set(channelId, { claimed: cumulativeAmount, increase });
    } else {
      outcome.skipped.set(event.args.channelId, skippedErrorOf(event.args.reason));
    }
  }
  return outcome;
}
