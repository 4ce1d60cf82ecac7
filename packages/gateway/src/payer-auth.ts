import { PaymentRequiredError } from "@verity/chain/x402";
import { RequestError } from "@verity/core";
import type { Context } from "hono";
import type { ApiKey, ApiKeys } from "./api-keys.ts";
import type { RateSlot } from "./key-rate-limits.ts";
import type { Hold, PrepaidLedger } from "./prepaid-ledger.ts";
import type { X402Payments, X402Settlement, X402Verified } from "./x402/index.ts";

/** How the caller of one request pays the gateway: a prepaid hold (API key) or an x402 payment. */
export type Payment =
  | { kind: "prepaid"; owner: string; hold: Hold; slot?: RateSlot }
  | { kind: "x402"; verified: X402Verified; amount: bigint; release: () => Promise<void> };

export type PaymentOutcome = { charged: bigint; settlement?: X402Settlement };

/**
 * Authorizes a request's maximum price before any provider is called: an API key holds it from the
 * prepaid balance; without a key the request must carry an x402 payment for exactly that price
 * (verified, not yet settled). Throws `PaymentRequired` carrying the 402 to send when it carries none.
 */
export async function authorizePayment(args: {
  c: Context;
  ledger: PrepaidLedger;
  keys: ApiKeys;
  /** The model asked for (a scoped key may call only its models). */
  model: string;
  x402: X402Payments | undefined;
  maxPrice: bigint;
  resourceUrl: string;
  description: string;
}): Promise<Payment> {
  const secret = keySecret(args.c);
  if (secret !== undefined) return holdPrepaid(args, await admitKey(args, secret));
  if (!args.x402) {
    throw new RequestError("This gateway needs an API key", {
      code: "invalid_api_key",
      hint: "Send Authorization: Bearer vk_…",
    });
  }
  const charge = { resourceUrl: args.resourceUrl, description: args.description, amount: args.maxPrice };
  const hasPayment = args.c.req.header("payment-signature") ?? args.c.req.header("x-payment");
  if (!hasPayment) {
    const required = await args.x402.paymentRequired(charge);
    throw new PaymentRequiredError(required.header, required.paymentRequired);
  }
  const x402 = args.x402;
  const verified = await x402.verify(args.c.req.raw.headers, charge);
  return { kind: "x402", verified, amount: args.maxPrice, release: () => x402.release(verified) };
}

/**
 * `authorizePayment` for a provider call that is prepared (routed, reserved, signed) while an API
 * key's hold commits: the key is authenticated and its scope checked before this returns, the hold
 * is left committing, and `payment` settles once it has committed (or rejects with its refusal).
 * Nothing may be sent to a provider before `payment` resolves (the SDK's `ready` option), so the
 * money rule is unchanged: held before the provider is called. x402 payments are verified first.
 */
export async function beginPayment(args: PaymentArgs): Promise<{ payment: Promise<Payment> }> {
  const secret = keySecret(args.c);
  if (secret !== undefined) {
    const admitted = await admitKey(args, secret);
    // Started on the next turn of the loop: the SDK's synchronous work (route, reserve, sign) runs
    // first and its reservation flush (on libuv's pool) overlaps the hold's statements.
    const payment = new Promise<void>((resolve) => setImmediate(resolve)).then(() => holdPrepaid(args, admitted));
    payment.catch(() => {}); // observed by the caller; never an unhandled rejection meanwhile
    return { payment };
  }
  return { payment: Promise.resolve(await authorizePayment(args)) };
}

type PaymentArgs = Parameters<typeof authorizePayment>[0];

/** The API key secret of `Authorization: Bearer vk_…`, or undefined when the request carries none. */
function keySecret(c: Context): string | undefined {
  const auth = c.req.header("authorization");
  return auth?.startsWith("Bearer ") && auth.slice(7).startsWith("vk_") ? auth.slice(7) : undefined;
}

/** An API key's request, before any money moves: the key (cached lookup; the hold re-checks
 * revocation and expiry under the key row's lock), its model scope, then its signed rates
 * (this replica's count). */
async function admitKey(args: PaymentArgs, secret: string): Promise<{ key: ApiKey; slot: RateSlot }> {
  const key = await args.keys.authenticate(secret, { cached: true });
  args.keys.authorize(key, { model: args.model });
  return { key, slot: args.keys.rateLimits.admit(key.id, key.scope) };
}

/** Holds the request's price from the key owner's balance (its money bounds are checked in the
 * hold's transaction); a refused hold frees the rate slot. */
async function holdPrepaid(args: PaymentArgs, admitted: { key: ApiKey; slot: RateSlot }): Promise<Payment> {
  const { key, slot } = admitted;
  try {
    return { kind: "prepaid", owner: key.owner, hold: await args.ledger.hold(key.owner, args.maxPrice, key.id), slot };
  } catch (error) {
    slot.finish();
    throw error;
  }
}

export { PaymentRequiredError };

/** Settles a completed request: the prepaid hold down to `charge`, or the x402 payment in full. */
export async function settlePayment(args: {
  payment: Payment;
  ledger: PrepaidLedger;
  x402: X402Payments | undefined;
  charge: bigint;
  ref: string;
  /** Prompt + completion tokens of the answer (counted against the key's tokens per minute). */
  tokens?: number;
}): Promise<PaymentOutcome> {
  const { payment } = args;
  if (payment.kind === "prepaid") {
    try {
      await args.ledger.settle(payment.hold, args.charge, args.ref);
    } finally {
      payment.slot?.finish(args.tokens);
    }
    return { charged: args.charge < payment.hold.amount ? args.charge : payment.hold.amount };
  }
  if (!args.x402) throw new Error("x402 payment without an x402 module");
  // A batch-settlement voucher is charged what the answer cost (a stream settles before it is
  // known, with charge 0: its ceiling); an exact authorization is always its full amount.
  if (payment.verified.scheme === "batch-settlement") {
    const settlement = await args.x402.settle(payment.verified, args.charge > 0n ? args.charge : undefined);
    return { charged: settlement.amount, settlement };
  }
  const settlement = await args.x402.settle(payment.verified);
  return { charged: payment.amount, settlement };
}

/**
 * Gives the caller's money back when no provider completed the request: the prepaid hold, or an
 * x402 authorization that was never sent for settlement (a no-op once it was).
 */
export async function releasePayment(args: { payment: Payment; ledger: PrepaidLedger }): Promise<void> {
  if (args.payment.kind === "prepaid") {
    args.payment.slot?.finish();
    await args.ledger.release(args.payment.hold);
  } else await args.payment.release();
}
