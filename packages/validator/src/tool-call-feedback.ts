/**
 * Tool-call quality as ERC-8004 feedback: the arguments of `ReputationRegistry.giveFeedback` for a
 * provider's smoothed score (valid + 1)/(calls + 2), value in percent with two decimals, tagged
 * `tool_calls` / `verity-validator`, pointing at the evidence the score is computed from. Anyone
 * eligible to give feedback about the agent (a payer of its channels, e.g. this validator's canary
 * account) can send it; the gateway reads the same score for routing.
 */
export const TOOL_CALL_TAG = "tool_calls";
export const VALIDATOR_TAG = "verity-validator";

export function toolCallFeedback(args: { agentId: string; calls: number; valid: number; publicUrl: string }): {
  agentId: bigint;
  value: bigint;
  valueDecimals: number;
  tag1: string;
  tag2: string;
  endpoint: string;
  feedbackURI: string;
} | null {
  if (args.calls === 0) return null;
  const smoothed = (args.valid + 1) / (args.calls + 2);
  return {
    agentId: BigInt(args.agentId),
    value: BigInt(Math.round(smoothed * 10_000)),
    valueDecimals: 2,
    tag1: TOOL_CALL_TAG,
    tag2: VALIDATOR_TAG,
    endpoint: args.publicUrl,
    feedbackURI: `${args.publicUrl}/v1/providers/${args.agentId}/evidence`,
  };
}
