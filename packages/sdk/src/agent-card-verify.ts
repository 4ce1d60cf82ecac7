/**
 * Verifies a Verity A2A Agent Card: its signature (EIP-191 over the JWS signing input of the card's
 * canonical JSON) must recover to the key the ERC-8004 registry holds for the agent id the card
 * names — the agent wallet when one is set, else the owner (the key its channels pay and its
 * receipts are signed by). Anything else is `agent_card_invalid`.
 */
import { type AgentCard, canonicalizeAgentCard } from "@a2a-js/sdk";
import { agentRegistryAbi } from "@verity/contracts";
import {
  AGENT_CARD_SIGNATURE_ALG,
  type AgentSkillPrice,
  agentCardSigningInput,
  decodeAgentCardProtectedHeader,
  parseAgentKid,
  RequestError,
  VERITY_A2A_EXTENSION_URI,
} from "@verity/core";
import { type PublicClient, recoverMessageAddress } from "viem";

export type VerifiedAgentCard = {
  card: AgentCard;
  chainId: number;
  agentId: bigint;
  agentRegistry: `0x${string}`;
  paymentChannels: `0x${string}`;
  token: `0x${string}`;
  /** The registered key that signed the card (and signs the agent's receipts). */
  signer: `0x${string}`;
  skills: Record<string, AgentSkillPrice>;
};

function invalid(message: string, details: Record<string, unknown> = {}): never {
  throw new RequestError(message, {
    code: "agent_card_invalid",
    hint: "Fetch the card from the agent itself; a card is only trusted when its registered key signed it",
    details,
  });
}

/** The Verity extension's params of a card (agent id, contracts, per-skill prices). */
export function verityParams(card: AgentCard): Record<string, unknown> {
  const ext = card.capabilities?.extensions?.find((e) => e.uri === VERITY_A2A_EXTENSION_URI);
  if (!ext?.params) invalid("The card declares no Verity extension");
  return ext.params as Record<string, unknown>;
}

/**
 * Checks `card` against the chain: refused with `agent_card_invalid` when unsigned, signed by
 * another key, for another chain or registry, or naming an agent the registry does not know.
 */
export async function verifyAgentCard(args: {
  card: AgentCard;
  publicClient: PublicClient;
  /** The registry the client trusts (its deployment's AgentRegistry); a card naming another is refused. */
  agentRegistry: `0x${string}`;
}): Promise<VerifiedAgentCard> {
  const { card } = args;
  const params = verityParams(card);
  const chainId = await args.publicClient.getChainId();
  const entries = card.signatures ?? [];
  if (entries.length === 0) invalid("The agent card is not signed");
  let canonical: string;
  try {
    canonical = canonicalizeAgentCard(card);
  } catch (cause) {
    invalid(`The agent card is malformed: ${(cause as Error).message}`);
  }
  for (const entry of entries) {
    const header = decodeAgentCardProtectedHeader(entry.protected);
    if (!header || header.alg !== AGENT_CARD_SIGNATURE_ALG) continue;
    const ref = parseAgentKid(header.kid);
    if (!ref) continue;
    if (ref.chainId !== chainId || ref.agentRegistry.toLowerCase() !== args.agentRegistry.toLowerCase()) {
      invalid("The card is signed for another chain or agent registry", { kid: header.kid });
    }
    if (String(params.agentId) !== ref.agentId.toString()) {
      invalid("The card's signature names another agent id than its Verity extension", { kid: header.kid });
    }
    const raw = Buffer.from(entry.signature, "base64url");
    if (raw.length !== 65) continue;
    const recovered = await recoverMessageAddress({
      message: agentCardSigningInput({ protected: entry.protected, canonicalCard: canonical }),
      signature: `0x${raw.toString("hex")}`,
    });
    const read = args.publicClient.readContract;
    const owner = await read({
      address: args.agentRegistry,
      abi: agentRegistryAbi,
      functionName: "ownerOf",
      args: [ref.agentId],
    }).catch(() => undefined);
    if (!owner) invalid(`Agent ${ref.agentId} is not registered`, { agentId: ref.agentId.toString() });
    const wallet = await read({
      address: args.agentRegistry,
      abi: agentRegistryAbi,
      functionName: "getAgentWallet",
      args: [ref.agentId],
    });
    const registered = (wallet !== "0x0000000000000000000000000000000000000000" ? wallet : owner) as `0x${string}`;
    if (recovered.toLowerCase() !== registered.toLowerCase()) {
      invalid("The agent card is not signed by the key registered for its agent id", {
        agentId: ref.agentId.toString(),
        signedBy: recovered,
        registered,
      });
    }
    return {
      card,
      chainId,
      agentId: ref.agentId,
      agentRegistry: args.agentRegistry,
      paymentChannels: params.paymentChannels as `0x${string}`,
      token: params.token as `0x${string}`,
      signer: registered,
      skills: (params.skills ?? {}) as Record<string, AgentSkillPrice>,
    };
  }
  invalid("The agent card has no Verity signature");
}
