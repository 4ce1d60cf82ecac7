/**
 * The paywall as Hono middleware: `app.use("/paid/*", paywallMiddleware(paywall))`. The handler
 * reads the payment with `c.get("payment")`. A handler that throws or answers ≥ 400 is not charged.
 */
import type { MiddlewareHandler } from "hono";
import type { PaymentInfo, Paywall } from "./paywall.ts";

export type PaywallEnv = { Variables: { payment: PaymentInfo } };

export function paywallMiddleware(paywall: Paywall): MiddlewareHandler<PaywallEnv> {
  return async (c, next) => {
    const admission = await paywall.admit(c.req.raw);
    if (admission instanceof Response) return admission;
    c.set("payment", admission.info);
    let threw = false;
    try {
      await next();
    } catch (error) {
      threw = true;
      await admission.release();
      throw error;
    }
    // Hono catches a handler's error and answers through onError: `c.error` is set then.
    const ok = !threw && c.error === undefined && c.res.status < 400;
    const done = await paywall.finish(admission, { ok, request: c.req.raw });
    if (done instanceof Response) {
      c.res = undefined;
      c.res = done;
      return;
    }
    for (const [name, value] of Object.entries(done.headers)) c.res.headers.set(name, value);
  };
}
