/**
 * Checks a provider's receipt for one request against what the client knows independently: the
 * offer's price, the request's ceiling and token bounds, the usage the response reported, and the
 * channel's charged total when the voucher was signed. Outcomes:
 * - `receipt_invalid`: missing or malformed, not signed by the channel's receipt signer (fixed when the
 *   channel opened: the agent wallet then, else the owner), for another
 *   channel, model or request, token counts that disagree with the usage, an undercharge, or a
 *   cumulative total below what it must be;
 * - `receipt_timestamp_invalid`: a timestamp more than `maxSkewSeconds` away from the client's clock
 *   (a backdated or postdated receipt);
 * - `overcharged`: a charge above `chargeFor(usage, price)` or the ceiling, usage beyond what the
 *   request allows, or a cumulative total above the highest voucher or what other requests explain.
 */

import { createStaticTypedDataHasher, recoverDigestSigner } from "@verity/chain";
import {
  chargeFor,
  type Price,
  type Receipt,
  receiptDomain,
  receiptFromJson,
  receiptTypes,
  type SignedReceiptJson,
  signedReceiptSchema,
} from "@verity/core";
import { getAddress } from "viem";
import type { FlagCode } from "./provider-flags.ts";

export type ReceiptExpectation = {
  chainId: number;
  paymentChannels: `0x${string}`;
  agentId: bigint;
  channelId: `0x${string}`;
  modelId: bigint;
  /** The request id the response announced (header or body), when it did. */
  requestId?: string;
  price: Price;
  /** The voucher headroom this request was given. */
  ceiling: bigint;
  maxTokens: number;
  /** The client's upper bound on the prompt's tokens. */
  promptTokenBound: number;
  usage: { prompt_tokens: number; completion_tokens: number };
  /** `charge` and `charged` as the response stated them outside the receipt, when it did. */
  stated?: { charge?: string; charged?: string };
  chargedAtSign: bigint;
  /** Charges other requests on the channel can explain (see `ChannelStore.allowance`). */
  extra: bigint;
  highestSigned: bigint;
  /** The client's clock, unix seconds. */
  now: number;
  /** Largest accepted distance between the receipt's timestamp and `now`, in seconds. */
  maxSkewSeconds: number;
};

/** Default `maxSkewSeconds`: wide enough for unsynchronised clocks and long answers, narrow enough to refuse backdating. */
export const DEFAULT_RECEIPT_SKEW_SECONDS = 120;

export type ReceiptVerdict =
  | { ok: true; receipt: Receipt; signed: SignedReceiptJson }
  | { ok: false; code: FlagCode; reason: string; details: Record<string, unknown> };

const fail = (code: FlagCode, reason: string, details: Record<string, unknown> = {}): ReceiptVerdict => ({
  ok: false,
  code,
  reason,
  details,
});

const receiptHasher = createStaticTypedDataHasher();

export async function checkReceipt(
  signedInput: unknown,
  expect: ReceiptExpectation,
  isSigner: (channelId: `0x${string}`, address: string) => Promise<boolean>,
): Promise<ReceiptVerdict> {
  const parsed = signedReceiptSchema.safeParse(signedInput);
  if (!parsed.success) return fail("receipt_invalid", "The response carries no well-formed signed receipt");
  const signed = parsed.data;
  const receipt = receiptFromJson(signed.receipt);
  // Native keccak + libsecp256k1, with the contracts' rules (65 bytes, v 27/28, low s).
  const digest = receiptHasher.digest({
    domain: receiptDomain({ chainId: expect.chainId, verifyingContract: expect.paymentChannels }),
    types: receiptTypes,
    primaryType: "Receipt",
    message: receipt,
  });
  const lower = digest ? recoverDigestSigner(digest, signed.signature) : undefined;
  if (!lower) return fail("receipt_invalid", "The receipt signature does not recover");
  const recovered = getAddress(lower);
  if (recovered.toLowerCase() !== signed.signer.toLowerCase() || !(await isSigner(expect.channelId, recovered))) {
    return fail(
      "receipt_invalid",
      `The receipt is signed by ${recovered}, not by the receipt signer of channel ${expect.channelId}`,
      {
        recovered,
      },
    );
  }
  const skew = Number(receipt.timestamp) - expect.now;
  if (Math.abs(skew) > expect.maxSkewSeconds) {
    return fail(
      "receipt_timestamp_invalid",
      `The receipt is timestamped ${Math.abs(skew)} s ${skew < 0 ? "before" : "after"} the client's clock (at most ${expect.maxSkewSeconds} s allowed)`,
      { timestamp: receipt.timestamp, now: expect.now, maxSkewSeconds: expect.maxSkewSeconds },
    );
  }
  if (receipt.channelId.toLowerCase() !== expect.channelId.toLowerCase()) {
    return fail("receipt_invalid", "The receipt is for another channel", { channelId: receipt.channelId });
  }
  if (receipt.modelId !== expect.modelId) {
    return fail("receipt_invalid", "The receipt is for another model", { modelId: receipt.modelId });
  }
  if (expect.requestId !== undefined && receipt.requestId.toLowerCase() !== expect.requestId.toLowerCase()) {
    return fail("receipt_invalid", "The receipt is for another request", { requestId: receipt.requestId });
  }
  if (
    receipt.promptTokens !== expect.usage.prompt_tokens ||
    receipt.completionTokens !== expect.usage.completion_tokens
  ) {
    return fail("receipt_invalid", "The receipt's token counts differ from the response's usage", {
      receipt: [receipt.promptTokens, receipt.completionTokens],
      usage: [expect.usage.prompt_tokens, expect.usage.completion_tokens],
    });
  }
  if (receipt.completionTokens > expect.maxTokens || receipt.promptTokens > expect.promptTokenBound) {
    return fail("overcharged", "The receipt counts more tokens than the request can have", {
      promptTokens: receipt.promptTokens,
      promptTokenBound: expect.promptTokenBound,
      completionTokens: receipt.completionTokens,
      maxTokens: expect.maxTokens,
    });
  }
  const due = chargeFor({
    price: expect.price,
    promptTokens: receipt.promptTokens,
    completionTokens: receipt.completionTokens,
  });
  if (receipt.charge > due || receipt.charge > expect.ceiling) {
    return fail("overcharged", `The receipt charges ${receipt.charge} where usage × price is ${due}`, {
      charge: receipt.charge,
      due,
      ceiling: expect.ceiling,
    });
  }
  if (receipt.charge < due) {
    return fail("receipt_invalid", `The receipt charges ${receipt.charge}, not usage × price = ${due}`, {
      charge: receipt.charge,
      due,
    });
  }
  const floor = expect.chargedAtSign + receipt.charge;
  if (receipt.cumulativeCharged > expect.highestSigned || receipt.cumulativeCharged > floor + expect.extra) {
    return fail(
      "overcharged",
      `The receipt's charged total ${receipt.cumulativeCharged} is more than this channel owes`,
      {
        cumulativeCharged: receipt.cumulativeCharged,
        expectedAtMost: floor + expect.extra,
        highestSigned: expect.highestSigned,
      },
    );
  }
  if (receipt.cumulativeCharged < floor) {
    return fail("receipt_invalid", `The receipt's charged total ${receipt.cumulativeCharged} is below ${floor}`, {
      cumulativeCharged: receipt.cumulativeCharged,
      expectedAtLeast: floor,
    });
  }
  const stated = expect.stated;
  if (
    (stated?.charge !== undefined && stated.charge !== receipt.charge.toString()) ||
    (stated?.charged !== undefined && stated.charged !== receipt.cumulativeCharged.toString())
  ) {
    return fail("receipt_invalid", "The response states another charge than its receipt", { stated });
  }
  return { ok: true, receipt, signed };
}
