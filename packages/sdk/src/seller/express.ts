/**
 * The paywall as Express-compatible middleware `(req, res, next)`: the handler's response is held
 * (writes buffered) until it ends; a status below 400 is then settled and sent with the payment
 * headers, anything else releases the payment and is sent as it is. `req.payment` carries the
 * payment info. Works with Express and plain `node:http` handlers chained this way.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { PaymentInfo, Paywall } from "./paywall.ts";

type Next = (error?: unknown) => void;

function toRequest(req: IncomingMessage): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  const url = `http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`;
  return new Request(url, { method: req.method ?? "GET", headers });
}

function headersOf(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

export function paywallExpress(paywall: Paywall) {
  return (req: IncomingMessage & { payment?: PaymentInfo }, res: ServerResponse, next: Next): void => {
    const request = toRequest(req);
    paywall.admit(request).then(async (admission) => {
      if (admission instanceof Response) {
        res.writeHead(admission.status, headersOf(admission.headers));
        res.end(Buffer.from(await admission.arrayBuffer()));
        return;
      }
      req.payment = admission.info;
      const chunks: Buffer[] = [];
      const end = res.end.bind(res);
      const chunk = (c: unknown, encoding?: unknown) =>
        Buffer.isBuffer(c)
          ? c
          : Buffer.from(c as string, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8");
      res.write = ((c: unknown, encoding?: unknown) => {
        if (c !== undefined && c !== null) chunks.push(chunk(c, encoding));
        return true;
      }) as typeof res.write;
      res.end = ((c?: unknown, encoding?: unknown) => {
        if (c !== undefined && c !== null && typeof c !== "function") chunks.push(chunk(c, encoding));
        const ok = res.statusCode < 400;
        paywall
          .finish(admission, { ok, request })
          .then(async (done) => {
            if (done instanceof Response) {
              res.statusCode = done.status;
              for (const [name, value] of Object.entries(headersOf(done.headers))) res.setHeader(name, value);
              res.removeHeader("content-length");
              end(Buffer.from(await done.arrayBuffer()));
              return;
            }
            for (const [name, value] of Object.entries(done.headers)) res.setHeader(name, value);
            end(Buffer.concat(chunks));
          })
          .catch((error: unknown) => next(error));
        return res;
      }) as typeof res.end;
      next();
    }, next);
  };
}
