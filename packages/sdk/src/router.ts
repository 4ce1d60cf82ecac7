/**
 * Picks where a request goes and reserves its ceiling: the cheapest healthy, unflagged offer for
 * the model within the price limit whose `maxOutputTokens` fits (or the requested agent), by the
 * request's own ceiling; then the first of the client's open channels to it with headroom, opening
 * one (`autoOpen`) when none has. Every refusal is an error with a reason code.
 */
import { PaymentError, RequestError } from "@verity/core";
import { effectiveMaxTokens, requestCeiling } from "./ceiling.ts";
import type { ChannelOps } from "./channel-ops.ts";
import type { ChannelStore, Reservation } from "./channel-store.ts";
import type { MandateLedger } from "./mandate-ledger.ts";
import { filterOffers, type Offer, type OfferDirectory } from "./offer-directory.ts";
import type { PriceLimit, RequestOptions } from "./openai-types.ts";
import type { Route } from "./paid-request.ts";
import type { ProviderFlags } from "./provider-flags.ts";

export type AutoOpen = { amount: bigint; withdrawDelay?: bigint };

export type RouteRequest = {
  kind: "chat" | "text";
  model: string;
  promptTokenBound: number;
  /** max_tokens as requested (null/undefined: the provider's default). */
  maxTokens: number | null | undefined;
  options: RequestOptions;
};

export function createRouter(deps: {
  directory: OfferDirectory;
  flags: ProviderFlags;
  store: ChannelStore;
  ops: ChannelOps;
  authorizer: `0x${string}`;
  maxCeiling: bigint;
  maxPrice?: PriceLimit;
  autoOpen?: AutoOpen;
  /** The spend mandate the client pays under: offers outside it are never chosen, spends are bounded. */
  mandate?: MandateLedger;
}) {
  const opening = new Map<string, Promise<unknown>>();

  function reserveOn(offer: Offer, ceiling: bigint): Reservation | undefined {
    const channels = deps.store.list({ agentId: offer.agentId, modelId: offer.modelId, state: "open" });
    for (const channel of channels) {
      if (channel.authorizer.toLowerCase() !== deps.authorizer.toLowerCase()) continue;
      const reservation = deps.store.reserve(channel.channelId, ceiling);
      if (reservation) return reservation;
    }
    return undefined;
  }

  /** Opens one channel per (agent, model) at a time; concurrent requests wait for it and retry. */
  async function openFor(offer: Offer, ceiling: bigint, autoOpen: AutoOpen): Promise<Reservation | undefined> {
    const key = `${offer.agentId}:${offer.modelId}`;
    const running = opening.get(key);
    if (running) {
      await running.catch(() => undefined);
      const reservation = reserveOn(offer, ceiling);
      if (reservation) return reservation;
    }
    const amount = autoOpen.amount > ceiling ? autoOpen.amount : ceiling;
    const open = deps.ops.openChannel({
      agentId: offer.agentId,
      modelId: offer.modelId,
      amount,
      ...(autoOpen.withdrawDelay === undefined ? {} : { withdrawDelay: autoOpen.withdrawDelay }),
    });
    opening.set(key, open);
    try {
      const channel = await open;
      return deps.store.reserve(channel.channelId, ceiling);
    } finally {
      if (opening.get(key) === open) opening.delete(key);
    }
  }

  async function route(req: RouteRequest): Promise<Route> {
    const all = await deps.directory.list();
    let offers = all.filter((o) => o.model === req.model);
    if (offers.length === 0) {
      const models = [...new Set(all.map((o) => o.model))].sort();
      throw new RequestError(`No provider offers model ${JSON.stringify(req.model)}`, {
        code: "unknown_model",
        hint: models.length > 0 ? `Offered models: ${models.join(", ")}` : "No offers are live yet",
      });
    }
    if (req.options.agentId !== undefined) {
      offers = offers.filter((o) => o.agentId === req.options.agentId);
      if (offers.length === 0) {
        throw new RequestError(`Agent ${req.options.agentId} has no offer for ${req.model}`, {
          code: "unknown_model",
          hint: "Drop agentId to route to any offer, or pick an agent from offers()",
        });
      }
    }
    const wanted = req.options.quantization;
    if (wanted !== undefined) {
      offers = offers.filter((o) => o.quantization === wanted);
      if (offers.length === 0) {
        throw new RequestError(`No provider of ${req.model} announces quantization ${JSON.stringify(wanted)}`, {
          code: "no_offer_for_quantization",
          hint: "Drop quantization, or pick another one from offers()",
        });
      }
    }
    const usable = offers.filter((o) => o.healthy && !deps.flags.isFlagged(o.agentId));
    if (usable.length === 0) {
      throw new RequestError(`Every offer for ${req.model} is unhealthy or flagged`, {
        code: "no_healthy_offer",
        hint: "Retry later; see flagged() for providers refused after a bad receipt",
        details: { agents: offers.map((o) => o.agentId.toString()) },
      });
    }
    const maxPrice = req.options.maxPrice ?? deps.maxPrice;
    const priced = filterOffers(usable, maxPrice ? { maxPrice } : {});
    if (priced.length === 0) {
      const cheapest = filterOffers(usable)[0];
      throw new RequestError(`No offer for ${req.model} is within the price limit`, {
        code: "offer_over_max_price",
        hint: "Raise maxPrice or wait for a cheaper offer",
        details: {
          maxPrice: { input: maxPrice?.inputPerMTok?.toString(), output: maxPrice?.outputPerMTok?.toString() },
          cheapest: cheapest && {
            input: cheapest.inputPricePerMTok.toString(),
            output: cheapest.outputPricePerMTok.toString(),
          },
        },
      });
    }
    const fitting = priced.filter((o) => req.maxTokens == null || req.maxTokens <= o.maxOutputTokens);
    if (fitting.length === 0) {
      const largest = Math.max(...priced.map((o) => o.maxOutputTokens));
      throw new RequestError(`max_tokens ${req.maxTokens} exceeds every offer's maximum (${largest})`, {
        code: "max_tokens_over_offer",
        hint: `Ask for at most ${largest} tokens`,
      });
    }
    const mandate = deps.mandate;
    const allowed = mandate ? fitting.filter((o) => mandate.allows(o)) : fitting;
    if (mandate && allowed.length === 0 && fitting[0]) mandate.admit(fitting[0]);
    const candidates = allowed
      .map((offer) => {
        const maxTokens = effectiveMaxTokens({
          kind: req.kind,
          maxTokens: req.maxTokens,
          offerMaxOutputTokens: offer.maxOutputTokens,
        });
        const price = { inputPerMTok: offer.inputPricePerMTok, outputPerMTok: offer.outputPricePerMTok };
        return { offer, maxTokens, ceiling: requestCeiling({ price, promptTokens: req.promptTokenBound, maxTokens }) };
      })
      .sort((a, b) => (a.ceiling < b.ceiling ? -1 : a.ceiling > b.ceiling ? 1 : 0));
    const best = candidates[0];
    if (!best) throw new RequestError("No offer fits the request", { code: "unknown_model" });
    if (best.ceiling > deps.maxCeiling) {
      throw new PaymentError(
        `The request may cost up to ${best.ceiling}, above the per-request cap of ${deps.maxCeiling}`,
        {
          code: "ceiling_over_cap",
          hint: "Lower max_tokens or shorten the prompt, or raise maxCeiling",
          details: { ceiling: best.ceiling.toString(), maxCeiling: deps.maxCeiling.toString() },
        },
      );
    }
    // Refused by the mandate before any channel is opened or reserved.
    mandate?.check(best.ceiling);
    let reservation = reserveOn(best.offer, best.ceiling);
    if (!reservation && deps.autoOpen) reservation = await openFor(best.offer, best.ceiling, deps.autoOpen);
    if (!reservation) {
      throw new PaymentError(`No open channel to agent ${best.offer.agentId} has ${best.ceiling} of headroom`, {
        code: "no_channel_headroom",
        hint: "Open a channel or top one up (openChannel / topUp), or pass autoOpen: { amount }",
        details: {
          agentId: best.offer.agentId.toString(),
          modelId: best.offer.modelId.toString(),
          ceiling: best.ceiling.toString(),
        },
      });
    }
    if (mandate) {
      // Checked and recorded in one synchronous transaction: concurrent requests cannot overshoot.
      try {
        mandate.reserve(reservation.id, best.ceiling);
      } catch (error) {
        deps.store.release(reservation.id);
        throw error;
      }
    }
    return { offer: best.offer, reservation, promptTokenBound: req.promptTokenBound, maxTokens: best.maxTokens };
  }

  return { route };
}

export type Router = ReturnType<typeof createRouter>;
