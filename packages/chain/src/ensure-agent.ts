/**
 * The ERC-8004 agent identity every node role (provider, validator) holds, made true on chain
 * idempotently: a known id this account still owns is reused and its URI updated when it changed;
 * otherwise a new agent is registered.
 */
import { agentRegistryAbi } from "@verity/contracts";
import { ConfigError, type Deployment } from "@verity/core";
import { type Abi, parseEventLogs, type TransactionReceipt } from "viem";
import type { ChainClients } from "./connect.ts";

/** A contract write a role's sender signs and waits for (chain and account are the sender's). */
export type AgentWrite = { address: `0x${string}`; abi: Abi; functionName: string; args: readonly unknown[] };

export async function ensureAgent(args: {
  clients: ChainClients;
  deployment: Deployment;
  /** An id to reuse when this account still owns it. */
  agentId?: bigint;
  agentURI: string;
  /** What the role is called in progress lines ("provider", "validator"). */
  role: string;
  send: (what: string, write: AgentWrite) => Promise<TransactionReceipt>;
  onStep?: (step: string) => void;
}): Promise<bigint> {
  const registry = args.deployment.contracts.AgentRegistry.address;
  const read = args.clients.publicClient.readContract;
  const me = args.clients.account.address.toLowerCase();
  let agentId = args.agentId;
  if (agentId !== undefined) {
    const owner = await read({
      address: registry,
      abi: agentRegistryAbi,
      functionName: "ownerOf",
      args: [agentId],
    }).catch(() => undefined);
    if (owner?.toLowerCase() !== me) agentId = undefined;
  }
  if (agentId === undefined) {
    const receipt = await args.send(`Registering the ${args.role} agent`, {
      address: registry,
      abi: agentRegistryAbi,
      functionName: "register",
      args: [args.agentURI],
    });
    const [event] = parseEventLogs({ abi: agentRegistryAbi, logs: receipt.logs, eventName: "Registered" });
    if (!event)
      throw new ConfigError("Agent registration emitted no Registered event", { code: "transaction_reverted" });
    args.onStep?.(`registered agent ${event.args.agentId}`);
    return event.args.agentId;
  }
  const uri = await read({ address: registry, abi: agentRegistryAbi, functionName: "tokenURI", args: [agentId] });
  if (uri !== args.agentURI) {
    await args.send("Updating the agent URI", {
      address: registry,
      abi: agentRegistryAbi,
      functionName: "setAgentURI",
      args: [agentId, args.agentURI],
    });
  }
  return agentId;
}
