/**
 * The scope of a gateway API key, written as Sign-In-with-Ethereum (EIP-4361) `resources` so the
 * owner sees and signs exactly what the key may do:
 *
 * - `verity:gateway:<address>` — the gateway the key is for (required; binds the proof to it)
 * - `verity:spend-limit:<base units>` — the most the key may spend in total
 * - `verity:models:<id>,<id>` — the only models it may call (each id URI-encoded)
 * - `verity:expires:<unix seconds>` — when the key stops working
 * - `verity:label:<text>` — a name for the owner's own listing (URI-encoded)
 * - `verity:max-per-call:<base units>` — the most one request may hold (its maximum charge)
 * - `verity:daily-limit:<base units>` — the most the key may spend per UTC day
 * - `verity:rpm:<n>`, `verity:tpm:<n>`, `verity:concurrency:<n>` — requests per minute, tokens
 *   (prompt + completion) per minute, and requests in flight at once
 *
 * A key without a spend limit, a model list and an expiry is a full key: it may also list and
 * revoke the owner's other keys. An unknown `verity:` resource or a malformed value is refused, so a typo
 * never mints a broader key than the owner meant.
 */
export type KeyScope = {
  spendLimit?: bigint;
  models?: string[];
  /** Unix seconds. */
  expiresAt?: number;
  label?: string;
  maxPerCall?: bigint;
  dailyLimit?: bigint;
  rpm?: number;
  tpm?: number;
  concurrency?: number;
};

const PREFIX = "verity:";

export class KeyScopeParseError extends Error {}

/** The SIWE resources for a key on `gateway` with `scope`. */
export function keyScopeResources(args: { gateway: `0x${string}`; scope?: KeyScope }): string[] {
  const { scope = {} } = args;
  return [
    `${PREFIX}gateway:${args.gateway.toLowerCase()}`,
    ...(scope.spendLimit === undefined ? [] : [`${PREFIX}spend-limit:${scope.spendLimit}`]),
    ...(scope.models === undefined ? [] : [`${PREFIX}models:${scope.models.map(encodeURIComponent).join(",")}`]),
    ...(scope.expiresAt === undefined ? [] : [`${PREFIX}expires:${scope.expiresAt}`]),
    ...(scope.label === undefined ? [] : [`${PREFIX}label:${encodeURIComponent(scope.label)}`]),
    ...(scope.maxPerCall === undefined ? [] : [`${PREFIX}max-per-call:${scope.maxPerCall}`]),
    ...(scope.dailyLimit === undefined ? [] : [`${PREFIX}daily-limit:${scope.dailyLimit}`]),
    ...(scope.rpm === undefined ? [] : [`${PREFIX}rpm:${scope.rpm}`]),
    ...(scope.tpm === undefined ? [] : [`${PREFIX}tpm:${scope.tpm}`]),
    ...(scope.concurrency === undefined ? [] : [`${PREFIX}concurrency:${scope.concurrency}`]),
  ];
}

/** Reads the gateway and scope back from SIWE resources; throws `KeyScopeParseError` on anything unexpected. */
export function parseKeyScopeResources(resources: readonly string[]): { gateway: string; scope: KeyScope } {
  let gateway: string | undefined;
  const scope: KeyScope = {};
  const seen = new Set<string>();
  for (const resource of resources) {
    if (!resource.startsWith(PREFIX)) throw new KeyScopeParseError(`unexpected resource ${resource}`);
    const rest = resource.slice(PREFIX.length);
    const colon = rest.indexOf(":");
    const name = colon < 0 ? rest : rest.slice(0, colon);
    const value = colon < 0 ? "" : rest.slice(colon + 1);
    if (seen.has(name)) throw new KeyScopeParseError(`${name} given twice`);
    seen.add(name);
    switch (name) {
      case "gateway":
        if (!/^0x[0-9a-f]{40}$/.test(value)) throw new KeyScopeParseError("gateway is not a lowercase address");
        gateway = value;
        break;
      case "spend-limit":
        if (!/^[1-9][0-9]{0,77}$/.test(value)) throw new KeyScopeParseError("spend-limit is not a positive integer");
        scope.spendLimit = BigInt(value);
        break;
      case "models": {
        const models = value.split(",").map((m) => decode(m));
        if (models.length === 0 || models.some((m) => m.length === 0 || m.length > 256))
          throw new KeyScopeParseError("models must list one or more model ids");
        scope.models = models;
        break;
      }
      case "expires":
        if (!/^[1-9][0-9]{0,11}$/.test(value)) throw new KeyScopeParseError("expires is not unix seconds");
        scope.expiresAt = Number(value);
        break;
      case "label": {
        const label = decode(value);
        if (label.length > 100) throw new KeyScopeParseError("label is longer than 100 characters");
        scope.label = label;
        break;
      }
      case "max-per-call":
      case "daily-limit": {
        if (!/^[1-9][0-9]{0,77}$/.test(value)) throw new KeyScopeParseError(`${name} is not a positive integer`);
        if (name === "max-per-call") scope.maxPerCall = BigInt(value);
        else scope.dailyLimit = BigInt(value);
        break;
      }
      case "rpm":
      case "tpm":
      case "concurrency": {
        if (!/^[1-9][0-9]{0,8}$/.test(value)) throw new KeyScopeParseError(`${name} is not a positive integer`);
        scope[name] = Number(value);
        break;
      }
      default:
        throw new KeyScopeParseError(`unknown scope ${name}`);
    }
  }
  if (!gateway) throw new KeyScopeParseError("the verity:gateway resource is missing");
  return { gateway, scope };
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new KeyScopeParseError(`${value} is not URI-encoded`);
  }
}

/** True when the scope leaves the key unrestricted in money and models (it may manage other keys). */
export const isFullKeyScope = (scope: KeyScope): boolean =>
  scope.spendLimit === undefined &&
  scope.models === undefined &&
  scope.maxPerCall === undefined &&
  scope.dailyLimit === undefined;

/** The human statement a wallet shows above the key's scope. */
export const keyStatement = (gateway: `0x${string}`): string =>
  `Create a Verity API key that spends this address's prepaid balance at gateway ${gateway.toLowerCase()}.`;
