/**
 * Who may sign a provider agent's receipts: the agent's owner or its agent wallet, read from the
 * AgentRegistry and cached. A signer not in the cached set triggers one fresh read (the owner or
 * wallet may have changed) before it is refused.
 */
import { agentRegistryAbi } from "@verity/contracts";
import type { PublicClient } from "viem";

type Entry = { addresses: Set<string>; at: number };

export function createAgentSigners(options: {
  publicClient: Pick<PublicClient, "readContract">;
  agentRegistry: `0x${string}`;
  /** How long a read stays fresh (default 5 minutes). */
  ttlMs?: number;
}) {
  const ttl = options.ttlMs ?? 300_000;
  const cache = new Map<string, Entry>();

  async function read(agentId: bigint): Promise<Set<string>> {
    const [owner, wallet] = await Promise.all([
      options.publicClient
        .readContract({
          address: options.agentRegistry,
          abi: agentRegistryAbi,
          functionName: "ownerOf",
          args: [agentId],
        })
        .catch(() => undefined),
      options.publicClient
        .readContract({
          address: options.agentRegistry,
          abi: agentRegistryAbi,
          functionName: "getAgentWallet",
          args: [agentId],
        })
        .catch(() => undefined),
    ]);
    const addresses = new Set<string>();
    for (const a of [owner, wallet]) {
      if (a && !/^0x0{40}$/i.test(a)) addresses.add(a.toLowerCase());
    }
    cache.set(agentId.toString(), { addresses, at: Date.now() });
    return addresses;
  }

  return {
    /** Whether `address` is the owner or agent wallet of `agentId`. */
    async isSigner(agentId: bigint, address: string): Promise<boolean> {
      const key = address.toLowerCase();
      const cached = cache.get(agentId.toString());
      if (cached && Date.now() - cached.at < ttl && cached.addresses.has(key)) return true;
      return (await read(agentId)).has(key);
    },
  };
}

export type AgentSigners = ReturnType<typeof createAgentSigners>;
