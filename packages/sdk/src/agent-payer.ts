/**
 * How a `VerityClient` pays an A2A agent: the same channel store, spend mandate and auto-open as its
 * chat requests. The mandate admits the agent id as a counterparty and the skill as a model (its
 * unit price is the per-task price × 10⁶ per million units) and checks the ceiling; the ceiling is
 * reserved on a channel to (agent id, skill model) — opened when none has headroom and `autoOpen`
 * is set — and recorded under the mandate in one step; the voucher is signed for the reserved
 * amount. A verified receipt settles both; a task the agent failed gives both back; an outcome the
 * client never learnt (a broken stream) stays counted (orphaned), as for an aborted chat.
 */

import type { AgentSkillPrice } from "@verity/core";
import { encodeVoucherHeader, PaymentError, voucherDomain, voucherTypes } from "@verity/core";
import type { LocalAccount } from "viem";
import type { VerifiedAgentCard } from "./agent-card-verify.ts";
import type { AgentPayer } from "./call-agent.ts";
import type { ChannelOps } from "./channel-ops.ts";
import type { ChannelStore, Reservation } from "./channel-store.ts";
import type { MandateLedger } from "./mandate-ledger.ts";
import type { AutoOpen } from "./router.ts";

export function createClientAgentPayer(deps: {
  store: ChannelStore;
  ops: ChannelOps;
  authorizer: LocalAccount;
  mandate?: MandateLedger;
  autoOpen?: AutoOpen;
}) {
  return async (card: VerifiedAgentCard, skill: string, price: AgentSkillPrice): Promise<AgentPayer> => {
    const modelId = BigInt(price.modelId);
    let reservation: Reservation | undefined;
    const reserveOn = (ceiling: bigint) => {
      for (const c of deps.store.list({ agentId: card.agentId, modelId, state: "open" })) {
        if (c.authorizer.toLowerCase() !== deps.authorizer.address.toLowerCase()) continue;
        const r = deps.store.reserve(c.channelId, ceiling);
        if (r) return r;
      }
      return undefined;
    };
    return {
      async pay(required) {
        deps.mandate?.admit({
          model: skill,
          agentId: card.agentId,
          inputPricePerMTok: BigInt(price.inputPerMTok),
          outputPricePerMTok: BigInt(price.outputPerMTok),
        });
        deps.mandate?.check(required.ceiling);
        let r = reserveOn(required.ceiling);
        if (!r && deps.autoOpen) {
          const amount = deps.autoOpen.amount > required.ceiling ? deps.autoOpen.amount : required.ceiling;
          const opened = await deps.ops.openChannel({ agentId: card.agentId, modelId, amount });
          r = deps.store.reserve(opened.channelId, required.ceiling);
        }
        if (!r) {
          throw new PaymentError(`No open channel to agent ${card.agentId} has ${required.ceiling} of headroom`, {
            code: "no_channel_headroom",
            hint: "Open a channel to the agent's skill model, or pass autoOpen: { amount }",
            details: { agentId: card.agentId.toString(), modelId: modelId.toString(), skill },
          });
        }
        if (deps.mandate) {
          try {
            deps.mandate.reserve(r.id, required.ceiling);
          } catch (error) {
            deps.store.release(r.id);
            throw error;
          }
        }
        reservation = r;
        const signature = await deps.authorizer.signTypedData({
          domain: voucherDomain({ chainId: required.chainId, verifyingContract: required.paymentChannels }),
          types: voucherTypes,
          primaryType: "Voucher",
          message: { channelId: r.channelId, cumulativeAmount: r.voucherAmount },
        });
        return encodeVoucherHeader({
          channelId: r.channelId,
          cumulativeAmount: r.voucherAmount,
          signature,
          chainId: required.chainId,
          contract: required.paymentChannels,
        });
      },
      settled({ charged, receipt }) {
        if (!reservation) return;
        deps.store.settle(reservation.id, charged);
        deps.mandate?.settle(reservation.id, BigInt(receipt.receipt.charge));
      },
      failed({ known }) {
        if (!reservation) return;
        if (known) {
          deps.store.release(reservation.id);
          deps.mandate?.release(reservation.id);
        } else deps.store.orphan(reservation.id);
      },
    };
  };
}
