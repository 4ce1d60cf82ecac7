/**
 * The signature format of a Verity A2A Agent Card: a JWS-shaped entry of the card's `signatures`
 * (A2A v1.0 §8.4) whose signing input is `protected.payload` — `payload` the base64url of the
 * card's canonical JSON (RFC 8785, `signatures` left out) — signed with EIP-191 `personal_sign` by
 * the key the ERC-8004 registry names for the agent (its agent wallet, else its owner): the key
 * that also receives its payment channels. `kid` names the agent as `eip155:<chainId>:<registry>#<agentId>`.
 */

/** Verity's A2A extension on a card: agent id, registry, contracts and per-skill prices. */
export const VERITY_A2A_EXTENSION_URI = "https://verity.network/a2a/extensions/verity/v1";

/** What a skill costs, as the Verity extension states it (base units of the payment token). */
export type AgentSkillPrice = {
  modelId: string;
  /** `task` for a handler agent (a flat price per task); `token` for an inference model. */
  unit: "task" | "token";
  /** The flat price of one task (unit `task`). */
  perTask?: string;
  inputPerMTok: string;
  outputPerMTok: string;
  maxOutputTokens: number;
};

/** The JWS `alg` of a Verity card signature: EIP-191 personal_sign with a secp256k1 key. */
export const AGENT_CARD_SIGNATURE_ALG = "ES256K-EIP191";
export const AGENT_CARD_SIGNATURE_TYP = "verity-agent-card+jws";

export type AgentCardSignatureHeader = { alg: string; typ: string; kid: string };

/** The agent an Agent Card signature speaks for. */
export type AgentRef = { chainId: number; agentRegistry: `0x${string}`; agentId: bigint };

export function agentKid(ref: AgentRef): string {
  return `eip155:${ref.chainId}:${ref.agentRegistry.toLowerCase()}#${ref.agentId}`;
}

/** Parses `eip155:<chainId>:<registry>#<agentId>`; undefined when malformed. */
export function parseAgentKid(kid: string): AgentRef | undefined {
  const match = /^eip155:(\d{1,12}):(0x[0-9a-fA-F]{40})#(\d{1,30})$/.exec(kid);
  if (!match) return undefined;
  return {
    chainId: Number(match[1]),
    agentRegistry: match[2] as `0x${string}`,
    agentId: BigInt(match[3] as string),
  };
}

export function base64url(text: string | Uint8Array): string {
  return Buffer.from(text).toString("base64url");
}

/** The protected header of a card signature for `ref`, base64url-encoded. */
export function agentCardProtectedHeader(ref: AgentRef): string {
  return base64url(
    JSON.stringify({ alg: AGENT_CARD_SIGNATURE_ALG, typ: AGENT_CARD_SIGNATURE_TYP, kid: agentKid(ref) }),
  );
}

export function decodeAgentCardProtectedHeader(encoded: string): AgentCardSignatureHeader | undefined {
  try {
    const header = JSON.parse(Buffer.from(encoded, "base64url").toString("utf8")) as Partial<AgentCardSignatureHeader>;
    if (typeof header.alg !== "string" || typeof header.typ !== "string" || typeof header.kid !== "string") {
      return undefined;
    }
    return { alg: header.alg, typ: header.typ, kid: header.kid };
  } catch {
    return undefined;
  }
}

/** The message signed with EIP-191: the JWS signing input over the card's canonical JSON. */
export function agentCardSigningInput(args: { protected: string; canonicalCard: string }): string {
  return `${args.protected}.${base64url(args.canonicalCard)}`;
}
