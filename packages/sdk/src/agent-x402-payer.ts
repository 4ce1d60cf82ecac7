/**
 * Paying an A2A agent with x402 instead of a Verity voucher (a2a-x402: the PaymentPayload goes in
 * `x402.payment.payload`): the caller's own `x402Client` — with `@x402/evm`'s batch-settlement
 * client scheme registered, as for the provider's HTTP routes — picks a requirement from the
 * agent's `x402.payment.required.accepts` and signs it; the settlement response in the completed
 * task's `x402.payment.receipts` is handed back to the client so its channel state follows (as
 * `@x402/fetch` does with `PAYMENT-RESPONSE`).
 */
import { PaymentError } from "@verity/core";
import type { x402Client } from "@x402/core/client";
import type { PaymentPayload, PaymentRequired, SettleResponse } from "@x402/core/types";
import { z } from "zod";

/** Pays agent tasks through `client` (an `x402Client` with the schemes it may pay registered). */
export type AgentX402Payer = { kind: "x402"; client: x402Client };

export function createX402AgentPayer(client: x402Client): AgentX402Payer {
  return { kind: "x402", client };
}

export function isX402Payer(payer: unknown): payer is AgentX402Payer {
  return typeof payer === "object" && payer !== null && (payer as { kind?: unknown }).kind === "x402";
}

const requirementSchema = z
  .object({ scheme: z.string(), network: z.string(), amount: z.string().regex(/^\d+$/) })
  .passthrough();
const requiredSchema = z.object({ accepts: z.array(z.unknown()), resource: z.unknown().optional() }).passthrough();
const receiptSchema = z
  .object({
    success: z.literal(true),
    transaction: z.string(),
    network: z.string(),
    x402: z.object({ charge: z.string().regex(/^\d+$/) }).passthrough(),
  })
  .passthrough();

/** The x402 part of an agent's `x402.payment.required` (the Verity voucher section dropped) and its largest amount. */
export function x402Required(args: { required: unknown; agentId: bigint }): {
  paymentRequired: PaymentRequired;
  amount: bigint;
} {
  const parsed = requiredSchema.safeParse(args.required);
  const accepts = (parsed.success ? parsed.data.accepts : [])
    .map((a) => requirementSchema.safeParse(a))
    .filter((a) => a.success && a.data.scheme !== "verity-channel")
    .map((a) => a.data as z.output<typeof requirementSchema>);
  if (!parsed.success || accepts.length === 0) {
    throw new PaymentError(`Agent ${args.agentId} accepts no x402 payment for this task`, {
      code: "x402_scheme_unavailable",
      hint: "Pay it with a Verity voucher (a channel payer) instead",
      details: { agentId: args.agentId.toString() },
    });
  }
  const amount = accepts.reduce((m, a) => (BigInt(a.amount) > m ? BigInt(a.amount) : m), 0n);
  return {
    paymentRequired: {
      x402Version: 2,
      accepts: accepts as unknown as PaymentRequired["accepts"],
      ...(parsed.data.resource ? { resource: parsed.data.resource as PaymentRequired["resource"] } : {}),
    } as PaymentRequired,
    amount,
  };
}

/**
 * Checks the completed task's settlement (successful, charging at most `amount`) and feeds it to
 * the client; returns it with the charge.
 */
export async function x402Settled(args: {
  payer: AgentX402Payer;
  payload: PaymentPayload;
  receipts: unknown;
  agentId: bigint;
  amount: bigint;
}): Promise<{ settlement: SettleResponse; charge: bigint }> {
  const entry = Array.isArray(args.receipts) ? args.receipts[0] : undefined;
  const parsed = receiptSchema.safeParse(entry);
  if (!parsed.success || BigInt(parsed.data.x402.charge) > args.amount) {
    throw new PaymentError(`Agent ${args.agentId} completed the task without a valid x402 settlement`, {
      code: "receipt_invalid",
      details: { agentId: args.agentId.toString() },
    });
  }
  const settlement = parsed.data as unknown as SettleResponse;
  await args.payer.client.handlePaymentResponse({
    paymentPayload: args.payload,
    requirements: args.payload.accepted,
    settleResponse: settlement,
  });
  return { settlement, charge: BigInt(parsed.data.x402.charge) };
}
