import type { FeedEvent } from "./api-types.ts";
import { formatAmount, formatBps, shortHex } from "./format.ts";

export type Category = "payments" | "disputes" | "staking" | "registry";
export type Tone = "good" | "info" | "warn" | "bad" | "muted";

export type Described = {
  title: string;
  category: Category;
  tone: Tone;
  /** One line of what happened, amounts formatted. */
  text: string;
  /** The provider (agent) the event is about, when there is one. */
  agentId?: string;
};

export const CATEGORIES: { id: Category | "all"; label: string }[] = [
  { id: "all", label: "All" },
  { id: "payments", label: "Payments" },
  { id: "disputes", label: "Disputes & audits" },
  { id: "staking", label: "Stake & offers" },
  { id: "registry", label: "Registry" },
];

const str = (v: unknown): string => (v === undefined || v === null ? "" : String(v));

/** Human description of one protocol event (unknown events keep their name). */
export function describeEvent(e: FeedEvent, token: { symbol: string; decimals: number }): Described {
  const a = e.args;
  const amt = (v: unknown) => `${formatAmount(str(v), token.decimals)} ${token.symbol}`;
  const agent = str(a.agentId ?? a.receiverAgentId) || undefined;
  const withAgent = (d: Omit<Described, "agentId">): Described => (agent ? { ...d, agentId: agent } : d);
  switch (e.name) {
    case "Claimed":
      return withAgent({
        title: "Claim settled",
        category: "payments",
        tone: "good",
        text: `${amt(a.increase)} paid · provider ${amt(a.providerAmount)} · royalty ${amt(a.royaltyAmount)} · fee ${amt(a.feeAmount)}`,
      });
    case "ChannelOpened":
      return withAgent({
        title: "Channel opened",
        category: "payments",
        tone: "info",
        text: `${shortHex(str(a.payer))} escrowed ${amt(a.amount)}`,
      });
    case "ChannelToppedUp":
      return { title: "Channel topped up", category: "payments", tone: "info", text: `+${amt(a.amount)} escrow` };
    case "WithdrawInitiated":
      return { title: "Withdrawal started", category: "payments", tone: "muted", text: shortHex(str(a.channelId)) };
    case "WithdrawCancelled":
      return { title: "Withdrawal cancelled", category: "payments", tone: "muted", text: shortHex(str(a.channelId)) };
    case "WithdrawFinalized":
      return { title: "Refund", category: "payments", tone: "info", text: `${amt(a.refund)} returned to the payer` };
    case "ChallengeOpened":
      return withAgent({
        title: `Challenge #${str(a.disputeId)}`,
        category: "disputes",
        tone: "warn",
        text: `${shortHex(str(a.challenger))} disputes a receipt charging ${amt(a.charge)} (bond ${amt(a.bond)})`,
      });
    case "CommitteeDrawn":
      return {
        title: `Committee drawn #${str(a.disputeId)}`,
        category: "disputes",
        tone: "info",
        text: `${(a.members as unknown[] | undefined)?.length ?? 0} validators drawn`,
      };
    case "VoteCommitted":
      return {
        title: `Vote committed #${str(a.disputeId)}`,
        category: "disputes",
        tone: "muted",
        text: `${shortHex(str(a.voter))} committed a sealed vote`,
      };
    case "VoteRevealed":
      return {
        title: `Vote revealed #${str(a.disputeId)}`,
        category: "disputes",
        tone: a.guilty === true ? "warn" : "info",
        text: `${shortHex(str(a.voter))} voted ${a.guilty === true ? "guilty" : "not guilty"}`,
      };
    case "DisputeResolved":
      return withAgent(
        a.guilty === true
          ? {
              title: `Verdict #${str(a.disputeId)}: guilty`,
              category: "disputes",
              tone: "bad",
              text: `${amt(a.slashed)} slashed · ${amt(a.refunded)} refunded · votes ${str(a.guiltyVotes)}–${str(a.notGuiltyVotes)}`,
            }
          : {
              title: `Verdict #${str(a.disputeId)}: not guilty`,
              category: "disputes",
              tone: "good",
              text: `Challenge bond to the provider · votes ${str(a.guiltyVotes)}–${str(a.notGuiltyVotes)}`,
            },
      );
    case "Slashed":
      return withAgent({ title: "Stake slashed", category: "disputes", tone: "bad", text: `${amt(a.amount)} taken` });
    case "VoterPenalized":
      return {
        title: "Voter penalized",
        category: "disputes",
        tone: "warn",
        text: `${shortHex(str(a.voter))} −${amt(a.amount)}`,
      };
    case "VoterRewarded":
      return {
        title: "Voter rewarded",
        category: "disputes",
        tone: "good",
        text: `${shortHex(str(a.voter))} +${amt(a.amount)}`,
      };
    case "ValidationResponse":
      return withAgent({
        title: Number(a.response) >= 50 ? "Audit passed" : "Audit failed",
        category: "disputes",
        tone: Number(a.response) >= 50 ? "good" : "bad",
        text: `score ${str(a.response)}/100${a.tag ? ` · ${str(a.tag)}` : ""}`,
      });
    case "ValidationRequest":
      return withAgent({
        title: "Validation requested",
        category: "disputes",
        tone: "muted",
        text: shortHex(str(a.requestHash)),
      });
    case "NewFeedback":
      return withAgent({
        title: "Feedback",
        category: "disputes",
        tone: Number(a.value) < 0 ? "bad" : "info",
        text: `${Number(a.value) / 10 ** Number(a.valueDecimals ?? 0)}${a.tag1 ? ` · ${str(a.tag1)}` : ""}`,
      });
    case "Staked":
      return withAgent({
        title: "Staked",
        category: "staking",
        tone: "info",
        text: `+${amt(a.amount)} · bonded ${amt(a.bonded)}`,
      });
    case "UnbondRequested":
      return withAgent({ title: "Unbonding", category: "staking", tone: "muted", text: amt(a.amount) });
    case "Withdrawn":
      return withAgent({ title: "Stake withdrawn", category: "staking", tone: "muted", text: amt(a.amount) });
    case "OfferAdded":
    case "OfferUpdated":
      return withAgent({
        title: e.name === "OfferAdded" ? "Offer published" : "Offer updated",
        category: "staking",
        tone: "info",
        text: `in ${formatAmount(str(a.inputPricePerMTok), token.decimals)} / out ${formatAmount(str(a.outputPricePerMTok), token.decimals)} ${token.symbol} per 1M tokens`,
      });
    case "OfferRemoved":
      return withAgent({
        title: "Offer removed",
        category: "staking",
        tone: "muted",
        text: `offer #${str(a.offerId)}`,
      });
    case "OffersPaused":
      return withAgent({
        title: "Offers paused",
        category: "staking",
        tone: "bad",
        text: "The provider stops receiving traffic",
      });
    case "OffersUnpaused":
      return withAgent({
        title: "Offers resumed",
        category: "staking",
        tone: "good",
        text: "The provider serves again",
      });
    case "Registered":
      return withAgent({
        title: "Agent registered",
        category: "registry",
        tone: "info",
        text: `owner ${shortHex(str(a.owner))}`,
      });
    case "ModelRegistered":
      return {
        title: "Model registered",
        category: "registry",
        tone: "info",
        text: `${str(a.name)} · royalty ${formatBps(Number(a.royaltyBps))}`,
      };
    case "RoyaltyLowered":
      return {
        title: "Royalty lowered",
        category: "registry",
        tone: "info",
        text: `now ${formatBps(Number(a.newBps))}`,
      };
    case "ValidatorRegistered":
      return withAgent({ title: "Validator joined", category: "registry", tone: "info", text: `bond ${amt(a.bond)}` });
    case "ValidatorDeregistered":
      return withAgent({
        title: "Validator left",
        category: "registry",
        tone: "muted",
        text: `bond ${amt(a.bond)} returned`,
      });
    case "Transfer":
      return /^0x0{40}$/.test(str(a.from))
        ? {
            title: "Agent minted",
            category: "registry",
            tone: "muted",
            text: `identity NFT #${str(a.tokenId)} to ${shortHex(str(a.to))}`,
          }
        : {
            title: "Agent transferred",
            category: "registry",
            tone: "info",
            text: `#${str(a.tokenId)} to ${shortHex(str(a.to))}`,
          };
    case "MetadataSet":
    case "MetadataUpdate":
      return { title: "Agent metadata updated", category: "registry", tone: "muted", text: e.contract };
    case "DisputesBound":
      return {
        title: "Disputes bound",
        category: "registry",
        tone: "muted",
        text: `${e.contract} accepts verdicts from Disputes`,
      };
    default:
      return withAgent({
        title: e.name.replace(/([a-z])([A-Z])/g, "$1 $2"),
        category: "registry",
        tone: "muted",
        text: e.contract,
      });
  }
}
