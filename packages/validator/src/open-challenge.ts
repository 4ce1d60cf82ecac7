/**
 * The challenge transaction itself, shared by single and pooled challenges: approve the bond, send
 * `Disputes.challenge` with the receipt, the channel's terms and the evidence, and return the
 * `ChallengeOpened` it emitted.
 */
import type { ChainClients } from "@verity/chain";
import { disputesAbi } from "@verity/contracts";
import { type ChannelConfig, type Deployment, receiptFromJson } from "@verity/core";
import { parseEventLogs, type TransactionReceipt } from "viem";
import type { AuditSamplePayload } from "./intake.ts";
import { approveDisputes } from "./onboard.ts";
import type { TxSender } from "./tx-sender.ts";

export async function openChallenge(args: {
  clients: ChainClients;
  deployment: Deployment;
  sender: TxSender;
  /** What the sender logs while the transaction is under way. */
  label: string;
  sample: AuditSamplePayload;
  channel: ChannelConfig;
  evidenceHash: `0x${string}`;
  evidenceURI: string;
}): Promise<{ receipt: TransactionReceipt; disputeId: bigint; agentId: bigint }> {
  const address = args.deployment.contracts.Disputes.address;
  const bond = await args.clients.publicClient.readContract({
    address,
    abi: disputesAbi,
    functionName: "challengeBond",
  });
  await approveDisputes({ clients: args.clients, deployment: args.deployment, sender: args.sender, amount: bond });
  const receipt = await args.sender.send(args.label, {
    address,
    abi: disputesAbi,
    functionName: "challenge",
    args: [
      receiptFromJson(args.sample.receipt.receipt),
      args.channel,
      args.sample.receipt.signature as `0x${string}`,
      args.evidenceHash,
      args.evidenceURI,
    ],
  });
  const [opened] = parseEventLogs({ abi: disputesAbi, logs: receipt.logs, eventName: "ChallengeOpened" });
  if (!opened) throw new Error("the challenge emitted no ChallengeOpened event");
  return { receipt, disputeId: opened.args.disputeId, agentId: opened.args.agentId };
}
