/**
 * The gateway's offer-endpoint policy. Anyone can register an offer on chain, and the gateway probes
 * its endpoint and sends paid requests to it, so by default it connects only to public http(s)
 * addresses (the SDK's endpoint guard, also checking the address actually connected to); an offer it
 * refuses is unhealthy with reason `endpoint_forbidden`, never routed to, and logged once.
 * `allowPrivateEndpoints` turns the guard off for networks that run on private addresses (the devnet).
 */
import { createEndpointGuard, type EndpointGuard } from "@verity/sdk";

export {
  checkEndpoint,
  checkEndpointUrl,
  createEndpointGuard,
  type EndpointGuard,
  type EndpointVerdict,
  forbiddenAddressReason,
} from "@verity/sdk";

/** The guard the gateway uses: none when private endpoints are allowed. */
export function gatewayEndpointGuard(options: { allowPrivateEndpoints?: boolean }): EndpointGuard | undefined {
  return options.allowPrivateEndpoints ? undefined : createEndpointGuard();
}

/**
 * A log of refused offers that writes one line per offer (not per probe round): `refused(url, reason)`
 * is called on every round and writes only for offers at `url` it has not written about yet. An offer
 * whose endpoint becomes allowed again is forgotten (`allowed`), so a later refusal is logged anew.
 */
export function createForbiddenOfferLog(options: {
  offersAt: (url: string) => { offerId: bigint; agentId: bigint }[];
  write?: (line: string) => void;
}) {
  const write = options.write ?? ((line: string) => console.error(line));
  const logged = new Map<string, Set<string>>();
  return {
    refused(url: string, reason: string): void {
      let seen = logged.get(url);
      if (!seen) {
        seen = new Set();
        logged.set(url, seen);
      }
      for (const o of options.offersAt(url)) {
        const id = o.offerId.toString();
        if (seen.has(id)) continue;
        seen.add(id);
        write(
          `verity-gateway: offer ${id} (agent ${o.agentId}) refused, endpoint_forbidden: ${url} is not a public address (${reason}); it is never routed to`,
        );
      }
    },
    allowed(url: string): void {
      logged.delete(url);
    },
  };
}
