/** The validator's ERC-8004 registration file (`/.well-known/agent-registration.json`, its agentURI). */
export function registrationFile(args: {
  name: string;
  publicUrl: string;
  agentId: bigint;
  chainId: number;
  agentRegistry: `0x${string}`;
  models: readonly { name: string; modelId: bigint }[];
}) {
  return {
    type: "https://eips.ethereum.org/EIPS/eip-8004#registration-v1",
    name: args.name,
    description: "Verity validator: re-scores sampled transcripts, challenges failed ones, votes on dispute committees",
    services: [
      { name: "verity-validator", endpoint: args.publicUrl, version: "1" },
      { name: "audit-intake", endpoint: `${args.publicUrl}/v1/audits`, version: "1" },
    ],
    x402Support: false,
    active: true,
    registrations: [{ agentId: Number(args.agentId), agentRegistry: `eip155:${args.chainId}:${args.agentRegistry}` }],
    supportedTrust: ["crypto-economic"],
    /** The models this validator audits: send samples for other models elsewhere. */
    models: args.models.map((m) => ({ model: m.name, modelId: m.modelId.toString() })),
  };
}
