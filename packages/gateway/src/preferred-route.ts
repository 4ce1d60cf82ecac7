import {
  type ExcludedBy,
  explainNoMatch,
  type ProviderPreferences,
  routeWithPreferences,
  withPriceCap,
} from "./provider-preferences.ts";
import type { RouteOffer, RouteRequest, RoutingPolicy } from "./routing-policy.ts";

/** What the `provider` preferences leave of the offers: the route, or which preference excluded whom. */
export type PreferredRoute = {
  /** The request with `max_price` folded into its price cap (what the route was chosen under). */
  capped: RouteRequest;
  /** The offers to try, best first; empty when no offer meets the preferences. */
  route: RouteOffer[];
  /** When `route` is empty: for each offer the request alone would take, the preference that excluded it. */
  excluded?: Partial<Record<ExcludedBy | "order", string[]>>;
};

/**
 * The one place the chat and text routes and `GET|POST /v1/quote` apply a `provider` object, so a
 * quote names exactly the providers a request would be sent to, in the order they would be tried.
 * Without `prefs` the route is the gateway's policy alone.
 */
export function preferredRoute(args: {
  offers: readonly RouteOffer[];
  request: RouteRequest;
  prefs?: ProviderPreferences | undefined;
  /** The payment token's decimals: `max_price` is in whole tokens per 1M. */
  decimals: number;
  policy: RoutingPolicy;
  random?: () => number;
}): PreferredRoute {
  const random = args.random ?? Math.random;
  const { offers, prefs } = args;
  if (!prefs) return { capped: args.request, route: args.policy(offers, args.request, random) };
  const capped = withPriceCap(args.request, prefs, args.decimals);
  const route = routeWithPreferences({ offers, request: capped, prefs, policy: args.policy, random });
  if (route.length > 0) return { capped, route };
  return { capped, route, excluded: explainNoMatch({ offers, base: args.request, capped, prefs }) };
}

/** The message for a route the preferences left empty, naming which preference excluded whom. */
export function noMatchMessage(model: string, excluded: PreferredRoute["excluded"]): string {
  const named = Object.entries(excluded ?? {})
    .map(([by, ids]) => `${by} excluded ${(ids ?? []).join(", ")}`)
    .join("; ");
  return `No provider of ${model} meets the provider preferences (${named || "none left"})`;
}
