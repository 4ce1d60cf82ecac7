/**
 * Agent discovery: every live offer's endpoint publishes a signed A2A Agent Card; each card is
 * fetched and verified against the registry (a card that fails is left out), its skills filtered
 * by name, price and the agent's on-chain reputation (ERC-8004 `getSummary` over every client,
 * all of whom paid it — the registry takes feedback only from paying clients).
 */
import type { AgentCard } from "@a2a-js/sdk";
import { reputationRegistryAbi } from "@verity/contracts";
import type { PublicClient } from "viem";
import { verifyAgentCard } from "./agent-card-verify.ts";
import { fetchAgentCard } from "./call-agent.ts";
import type { Offer } from "./offer-directory.ts";

export type AgentListing = {
  agentId: bigint;
  url: string;
  cardUrl: string;
  name: string;
  description: string;
  skill: string;
  skillDescription: string;
  unit: "task" | "token";
  /** The most one task costs: the per-task price, or max output tokens × output price for inference. */
  maxTaskPrice: bigint;
  /** Average feedback value and how many entries it averages (undefined value: no feedback yet). */
  reputation: { count: number; value?: number };
};

export type AgentQuery = { skill?: string; maxPrice?: bigint; minReputation?: number };

export async function findAgents(args: {
  offers: readonly Offer[];
  publicClient: PublicClient;
  agentRegistry: `0x${string}`;
  reputationRegistry: `0x${string}`;
  query?: AgentQuery;
  fetch?: typeof fetch;
}): Promise<AgentListing[]> {
  const query = args.query ?? {};
  const urls = [...new Set(args.offers.filter((o) => o.healthy).map((o) => o.url.replace(/\/$/, "")))];
  const listings: AgentListing[] = [];
  await Promise.all(
    urls.map(async (url) => {
      let card: AgentCard;
      let verified: Awaited<ReturnType<typeof verifyAgentCard>>;
      try {
        card = await fetchAgentCard(url, args.fetch);
        verified = await verifyAgentCard({ card, publicClient: args.publicClient, agentRegistry: args.agentRegistry });
      } catch {
        return; // no card, or one that does not verify: not an agent anyone should pay
      }
      const [count, value, decimals] = await args.publicClient.readContract({
        address: args.reputationRegistry,
        abi: reputationRegistryAbi,
        functionName: "getSummary",
        args: [verified.agentId, [], "", ""],
      });
      const reputation =
        count > 0n ? { count: Number(count), value: Number(value) / 10 ** Number(decimals) } : { count: 0 };
      for (const skill of card.skills) {
        const price = verified.skills[skill.id];
        if (!price) continue;
        if (query.skill !== undefined && skill.id !== query.skill) continue;
        const maxTaskPrice =
          price.perTask !== undefined
            ? BigInt(price.perTask)
            : (BigInt(price.outputPerMTok) * BigInt(price.maxOutputTokens) + 999_999n) / 1_000_000n;
        if (query.maxPrice !== undefined && maxTaskPrice > query.maxPrice) continue;
        if (query.minReputation !== undefined && (reputation.value ?? -Infinity) < query.minReputation) continue;
        listings.push({
          agentId: verified.agentId,
          url,
          cardUrl: `${url}/.well-known/agent-card.json`,
          name: card.name,
          description: card.description,
          skill: skill.id,
          skillDescription: skill.description,
          unit: price.unit,
          maxTaskPrice,
          reputation,
        });
      }
    }),
  );
  return listings.sort((a, b) =>
    a.maxTaskPrice < b.maxTaskPrice ? -1 : a.maxTaskPrice > b.maxTaskPrice ? 1 : Number(a.agentId - b.agentId),
  );
}
