/**
 * The endpoint guard: a server that fetches offer endpoints learned from the chain (anyone can
 * register one) connects only to public http(s) addresses. The URL is checked before any connection
 * (scheme, userinfo, IP literal, what the host name resolves to), and the address actually connected
 * to is checked again in the connection itself (an undici connector whose DNS `lookup` refuses every
 * forbidden address and which refuses forbidden IP literals, redirects included), so a name that
 * resolves to a public address when checked and to 127.0.0.1 when connecting (DNS rebinding) is
 * refused as well.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { BaseError, RequestError } from "@verity/core";
import { Agent, buildConnector } from "undici";
import { forbiddenAddressReason } from "./forbidden-address.ts";

export { forbiddenAddressReason } from "./forbidden-address.ts";

export type EndpointVerdict = { ok: true } | { ok: false; reason: string };

/** The error every refusal throws: `endpoint_forbidden` (502: the offer's endpoint, not the caller, is at fault). */
export function endpointForbidden(url: string, reason: string): RequestError {
  return new RequestError(`The offer endpoint ${url} is not a public http(s) address (${reason})`, {
    code: "endpoint_forbidden",
    hint: "Offers must name a public http(s) endpoint; a gateway operator can allow private ones (allowPrivateEndpoints)",
    details: { url, reason },
  });
}

/** Checks what the URL alone shows: http/https only, no userinfo, no forbidden IP literal. */
export function checkEndpointUrl(url: string): EndpointVerdict & { host?: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, reason: "not-a-url" };
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return { ok: false, reason: `scheme ${parsed.protocol.replace(/:$/, "")}` };
  }
  if (parsed.username !== "" || parsed.password !== "") return { ok: false, reason: "userinfo" };
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  if (host === "") return { ok: false, reason: "no-host" };
  if (isIP(host)) {
    const reason = forbiddenAddressReason(host);
    return reason ? { ok: false, reason } : { ok: true, host };
  }
  return { ok: true, host };
}

type Lookup = (
  hostname: string,
  options: { all: true; verbatim?: boolean },
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

function lookupAll(lookup: Lookup, hostname: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) =>
    lookup(hostname, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
  );
}

/**
 * Checks the URL and every address its host name resolves to. A name that does not resolve is not
 * forbidden (the fetch fails as unreachable); a name with any forbidden address is.
 */
export async function checkEndpoint(args: { url: string; lookup?: Lookup }): Promise<EndpointVerdict> {
  const pre = checkEndpointUrl(args.url);
  if (!pre.ok || !pre.host || isIP(pre.host)) return pre.ok ? { ok: true } : pre;
  let addresses: LookupAddress[];
  try {
    addresses = await lookupAll(args.lookup ?? (dnsLookup as unknown as Lookup), pre.host);
  } catch {
    return { ok: true };
  }
  for (const a of addresses) {
    const reason = forbiddenAddressReason(a.address);
    if (reason) return { ok: false, reason: `${pre.host} resolves to ${reason}` };
  }
  return { ok: true };
}

/** A `lookup` for `net.connect` that fails when any resolved address is forbidden. */
export function guardedLookup(base: LookupFunction = dnsLookup as unknown as LookupFunction): LookupFunction {
  return (hostname, options, callback) => {
    base(hostname, options, (error, address, family) => {
      if (error) return callback(error, address, family);
      const all: LookupAddress[] = Array.isArray(address) ? address : [{ address, family: family ?? 4 }];
      for (const a of all) {
        const reason = forbiddenAddressReason(a.address);
        if (reason) {
          return callback(
            Object.assign(endpointForbidden(hostname, `${hostname} resolves to ${reason}`), {
              errno: 0,
              syscall: "lookup",
            }),
            address,
            family,
          );
        }
      }
      callback(null, address, family);
    });
  };
}

function forbiddenCause(error: unknown): BaseError | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof BaseError && e.code === "endpoint_forbidden") return e;
  }
  return undefined;
}

export type EndpointGuard = {
  /** Wraps a fetch so every request goes through the guard; refusals throw `endpoint_forbidden`. */
  wrap(base: typeof fetch): typeof fetch;
  check(url: string): Promise<EndpointVerdict>;
  close(): Promise<void>;
};

/** Creates the guard; `lookup` replaces the system resolver (tests use it to simulate rebinding). */
export function createEndpointGuard(options: { lookup?: LookupFunction } = {}): EndpointGuard {
  const lookup = guardedLookup(options.lookup);
  const connector = buildConnector({ lookup } as Parameters<typeof buildConnector>[0]);
  const dispatcher = new Agent({
    connect: (opts, callback) => {
      const host = opts.hostname.replace(/^\[|\]$/g, "");
      const reason = isIP(host) ? forbiddenAddressReason(host) : undefined;
      if (reason) return callback(endpointForbidden(`${opts.protocol}//${opts.hostname}`, reason), null);
      connector(opts, callback);
    },
  });
  return {
    wrap(base) {
      return (async (input: string | URL | Request, init?: RequestInit) => {
        const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
        const verdict = checkEndpointUrl(url);
        if (!verdict.ok) throw endpointForbidden(url, verdict.reason);
        try {
          return await base(input, { ...init, dispatcher } as RequestInit);
        } catch (error) {
          const forbidden = forbiddenCause(error);
          if (forbidden) throw endpointForbidden(url, String(forbidden.details.reason ?? "forbidden address"));
          throw error;
        }
      }) as typeof fetch;
    },
    check: (url) => checkEndpoint({ url, ...(options.lookup ? { lookup: options.lookup as unknown as Lookup } : {}) }),
    close: () => dispatcher.close(),
  };
}
