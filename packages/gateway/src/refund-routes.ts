import { RequestError } from "@verity/core";
import { errorResponse } from "@verity/provider";
import type { Hono } from "hono";
import type { ApiKeys } from "./api-keys.ts";
import type { PrepaidLedger } from "./prepaid-ledger.ts";
import { type RefundCredits, refundCreditJson } from "./refund-credits.ts";

/**
 * `GET /v1/refunds`: dispute refunds passed on to a customer. With `Authorization: Bearer vk_…` it
 * lists the refunds credited to that key's balance and the matching ledger entries; without a key,
 * `?payer=0x…` lists the refunds owed to that x402 payer address.
 */
export function mountRefundRoutes(
  app: Hono,
  deps: { ledger: PrepaidLedger; keys: ApiKeys; credits: RefundCredits },
): void {
  app.get("/v1/refunds", async (c) => {
    try {
      const auth = c.req.header("authorization") ?? "";
      if (auth.startsWith("Bearer ")) {
        const { owner } = await deps.keys.authenticate(auth.slice(7));
        return c.json({
          owner,
          balance: (await deps.ledger.balanceOf(owner)).toString(),
          data: (await deps.credits.list({ customer: owner })).map(refundCreditJson),
          ledger: (await deps.ledger.entries(owner, { reason: "refund" })).map((e) => ({
            ...e,
            delta: e.delta.toString(),
          })),
        });
      }
      const payer = c.req.query("payer") ?? "";
      if (!/^0x[0-9a-fA-F]{40}$/.test(payer)) {
        throw new RequestError("Send Authorization: Bearer vk_… or ?payer=<your x402 payer address>", {
          code: "invalid_request",
        });
      }
      const data = (await deps.credits.list({ customer: payer })).filter((r) => r.customer?.kind === "x402");
      const owed = data.reduce((sum, r) => sum + r.amount, 0n);
      return c.json({ payer: payer.toLowerCase(), owed: owed.toString(), data: data.map(refundCreditJson) });
    } catch (error) {
      return errorResponse(c, error);
    }
  });
}
