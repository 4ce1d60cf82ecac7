/**
 * One paid request to one provider over a reserved channel: sign the voucher (its amount is already
 * durable), POST, retry once on `voucher_below_ceiling` with the provider's stated ceiling (never
 * above the client's cap), then verify the receipt before the charge is accepted — for streams on
 * the trailing chunk, before it is handed to the caller. A refused receipt flags the provider and
 * throws a PaymentError with the flag's code; the reservation then stays counted (orphaned). The
 * provider's transcript (token ids, resolved sampling) is kept for audits only when it matches the
 * verified receipt; otherwise the answer still counts, stored without ids and never sampled.
 *
 * Seed-synced sampling: every request carries `verity: { seed_key, audit_commit }` in its body,
 * derived from the chain, the channel, the voucher's amount and the channel's audit secret (see
 * `@verity/core`'s `sampling-seed.ts`). A receipt whose params carry another seed key or commitment
 * than the ones sent is refused (`seed_derivation_mismatch` / `audit_commit_mismatch`).
 */
import {
  BaseError,
  encodeVoucherHeader,
  HEADERS,
  isReasonCode,
  PaymentError,
  type ReasonCode,
  RequestError,
  voucherDomain,
  voucherTypes,
} from "@verity/core";
import type { LocalAccount } from "viem";
import type { AuditQueue } from "./audit-queue.ts";
import type { ChannelStore, Reservation } from "./channel-store.ts";
import type { MandateLedger } from "./mandate-ledger.ts";
import type { Offer } from "./offer-directory.ts";
import type { CompletionUsage, VerityPayment } from "./openai-types.ts";
import type { ProviderFlags } from "./provider-flags.ts";
import { checkReceipt } from "./receipt-check.ts";
import type { ReceiptSigners } from "./receipt-signers.ts";
import { checkSeedFields, type SentSeed, seedBodyField, seedRefusal, sentSeed } from "./seed-fields.ts";
import { sseData } from "./sse.ts";
import { checkTranscript } from "./transcript-check.ts";

export type PaidContext = {
  chainId: number;
  paymentChannels: `0x${string}`;
  authorizer: LocalAccount;
  store: ChannelStore;
  flags: ProviderFlags;
  signers: ReceiptSigners;
  audits: AuditQueue;
  fetch: typeof fetch;
  /** Largest ceiling the client signs for one request. */
  maxCeiling: bigint;
  /** Largest accepted distance between a receipt's timestamp and the client's clock, in seconds. */
  receiptSkewSeconds: number;
  /** The client's clock in ms (default `Date.now`). */
  now?: () => number;
  /** The spend mandate: a verified receipt lowers the request's spend to its charge. */
  mandate?: MandateLedger;
  /** Refuse a receipt whose params do not carry the seed key sent (`missing_seed`). */
  requireSeed?: boolean;
};

/** A routed request: the offer, the reservation on one of its channels, and the client's bounds. */
export type Route = {
  offer: Offer;
  reservation: Reservation;
  promptTokenBound: number;
  maxTokens: number;
  /** The seed fields sent with the latest attempt (set by the request, read by the receipt check). */
  seed?: SentSeed;
};

export type PaidRequest = {
  kind: "chat" | "text";
  body: Record<string, unknown>;
  signal?: AbortSignal;
  /** The caller's precondition for sending the voucher (`RequestOptions.ready`). */
  ready?: Promise<unknown>;
};

type ErrorBody = {
  error?: { code?: string; message?: string; hint?: string; details?: Record<string, unknown> };
  payment?: { ceiling?: string };
};

/** The provider's error answer as a Verity error with its reason code (payment codes → PaymentError). */
function providerError(status: number, body: ErrorBody, offer: Offer): BaseError {
  const code: ReasonCode = body.error?.code && isReasonCode(body.error.code) ? body.error.code : "upstream_error";
  const message = `Provider ${offer.agentId} refused the request: ${body.error?.message ?? `HTTP ${status}`}`;
  const options = {
    code,
    ...(body.error?.hint ? { hint: body.error.hint } : {}),
    details: { status, agentId: offer.agentId.toString(), url: offer.url, ...(body.error?.details ?? {}) },
  };
  return status === 402 || status === 409 ? new PaymentError(message, options) : new RequestError(message, options);
}

async function readJson(response: Response): Promise<unknown> {
  try {
    return await response.json();
  } catch {
    return undefined;
  }
}

function decodeReceiptHeader(value: string | null): Record<string, unknown> | undefined {
  if (!value) return undefined;
  try {
    return JSON.parse(Buffer.from(value, "base64").toString("utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function abortedError(route: Route): RequestError {
  return new RequestError(`The request to provider ${route.offer.agentId} was aborted`, {
    code: "request_aborted",
    hint: "An aborted request is charged for what the provider delivered; the channel accounts for it",
    details: { agentId: route.offer.agentId.toString(), channelId: route.reservation.channelId },
  });
}

export function createPaidRequests(ctx: PaidContext) {
  const domain = voucherDomain({ chainId: ctx.chainId, verifyingContract: ctx.paymentChannels });

  async function post(route: Route, r: Reservation, req: PaidRequest, signal?: AbortSignal): Promise<Response> {
    const seed = sentSeed({
      chainId: ctx.chainId,
      channelId: r.channelId,
      voucherAmount: r.voucherAmount,
      auditSecret: ctx.store.auditSecret(r.channelId),
    });
    if (seed) route.seed = seed;
    else delete route.seed;
    // The reservation (the highest amount ever signed) and the channel's audit secret are on disk
    // before the voucher and anything derived from the secret leave.
    const durable = ctx.store.durable();
    const signature = await ctx.authorizer.signTypedData({
      domain,
      types: voucherTypes,
      primaryType: "Voucher",
      message: { channelId: r.channelId, cumulativeAmount: r.voucherAmount },
    });
    const voucher = encodeVoucherHeader({
      channelId: r.channelId,
      cumulativeAmount: r.voucherAmount,
      signature,
      chainId: ctx.chainId,
      contract: ctx.paymentChannels,
    });
    const path = req.kind === "chat" ? "/v1/chat/completions" : "/v1/completions";
    await durable;
    if (req.ready) {
      try {
        await req.ready;
      } catch (error) {
        ctx.store.release(r.id); // nothing left the process
        throw error;
      }
    }
    try {
      return await ctx.fetch(`${route.offer.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", [HEADERS.voucher]: voucher },
        // The caller's own `verity` field (if any) is replaced: the seed fields are this client's.
        body: JSON.stringify({ ...req.body, verity: seedBodyField(seed) }),
        ...(signal ? { signal } : {}),
      });
    } catch (cause) {
      // The endpoint guard refused the address before connecting: nothing reached the provider.
      if (cause instanceof BaseError && cause.code === "endpoint_forbidden") {
        ctx.store.release(r.id);
        throw cause;
      }
      // Refused connections never reached the provider; anything else may have been charged.
      const refused = (cause as { cause?: { code?: string } }).cause?.code === "ECONNREFUSED";
      if (refused) ctx.store.release(r.id);
      else ctx.store.orphan(r.id);
      throw new RequestError(`Provider ${route.offer.agentId} at ${route.offer.url} did not answer`, {
        code: "upstream_unreachable",
        hint: "Retry; the client routes to another healthy offer once this one's health probe fails",
        details: { agentId: route.offer.agentId.toString(), url: route.offer.url },
        cause,
      });
    }
  }

  /** On a `voucher_below_ceiling` 402 stating a larger ceiling (at most the client's cap), re-reserves for it. */
  function raiseCeiling(route: Route, body: ErrorBody): boolean {
    const statedText = body.payment?.ceiling ?? (body.error?.details?.ceiling as string | undefined);
    const stated = statedText !== undefined && /^\d+$/.test(String(statedText)) ? BigInt(statedText) : undefined;
    if (body.error?.code !== "voucher_below_ceiling" || stated === undefined || stated <= route.reservation.ceiling) {
      return false;
    }
    if (stated > ctx.maxCeiling) {
      ctx.store.release(route.reservation.id);
      throw new PaymentError(
        `Provider ${route.offer.agentId} asks for a ceiling of ${stated}, above the cap of ${ctx.maxCeiling}`,
        {
          code: "ceiling_over_cap",
          hint: "Lower max_tokens or shorten the prompt, or raise maxCeiling",
          details: { ceiling: stated.toString(), maxCeiling: ctx.maxCeiling.toString() },
        },
      );
    }
    if (ctx.mandate) {
      try {
        ctx.mandate.resize(route.reservation.id, stated);
      } catch (error) {
        ctx.store.release(route.reservation.id);
        throw error;
      }
    }
    const resized = ctx.store.resize(route.reservation.id, stated);
    if (!resized) {
      ctx.store.release(route.reservation.id);
      throw new PaymentError(`The channel has no headroom for the provider's ceiling of ${stated}`, {
        code: "no_channel_headroom",
        hint: "Top up the channel or open a new one",
        details: { channelId: route.reservation.channelId, ceiling: stated.toString() },
      });
    }
    // Only the voucher grows: the receipt's prompt tokens stay bounded by the client's own count
    // (`route.promptTokenBound`), so a larger ceiling never lets the provider bill a longer prompt.
    route.reservation = resized;
    return true;
  }

  /** Sends with the voucher; on a `voucher_below_ceiling` 402 stating a larger ceiling, retries once. */
  async function send(route: Route, req: PaidRequest, signal?: AbortSignal): Promise<Response> {
    const response = await post(route, route.reservation, req, signal);
    if (response.status !== 402) return response;
    const body = ((await readJson(response)) ?? {}) as ErrorBody;
    if (!raiseCeiling(route, body)) {
      ctx.store.release(route.reservation.id);
      throw providerError(402, body, route.offer);
    }
    return post(route, route.reservation, req, signal);
  }

  /** Verifies the receipt and, when it holds, accepts the charge and stores the transcript. */
  async function settle(
    route: Route,
    req: PaidRequest,
    args: {
      /** The provider's `verity` section as received (receipt, charge and its transcript). */
      verity: (Partial<VerityPayment> & { transcript?: unknown }) | undefined;
      usage: CompletionUsage | undefined;
      requestId?: string;
      output: string;
    },
  ): Promise<VerityPayment> {
    const r = route.reservation;
    const allowance = ctx.store.allowance(r.id);
    const v = args.verity;
    const signed = v ? { receipt: v.receipt, signature: v.signature, signer: v.signer } : undefined;
    const verdict =
      allowance === undefined || args.usage === undefined
        ? ({
            ok: false,
            code: "receipt_invalid",
            reason: "The response carries no usage or receipt",
            details: {},
          } as const)
        : await checkReceipt(
            signed,
            {
              chainId: ctx.chainId,
              paymentChannels: ctx.paymentChannels,
              agentId: route.offer.agentId,
              channelId: r.channelId,
              modelId: route.offer.modelId,
              ...(args.requestId ? { requestId: args.requestId } : {}),
              price: { inputPerMTok: route.offer.inputPricePerMTok, outputPerMTok: route.offer.outputPricePerMTok },
              ceiling: r.ceiling,
              maxTokens: route.maxTokens,
              promptTokenBound: route.promptTokenBound,
              usage: args.usage,
              stated: {
                ...(v?.charge === undefined ? {} : { charge: String(v.charge) }),
                ...(v?.charged === undefined ? {} : { charged: String(v.charged) }),
              },
              chargedAtSign: allowance.chargedAtSign,
              extra: allowance.extra,
              highestSigned: allowance.highestSigned,
              now: Math.floor((ctx.now ?? Date.now)() / 1000),
              maxSkewSeconds: ctx.receiptSkewSeconds,
            },
            ctx.signers.isSigner,
          );
    if (!verdict.ok) {
      ctx.store.orphan(r.id); // the provider holds the voucher; its charge stays unproven
      ctx.flags.flag(route.offer.agentId, verdict.code, verdict.reason, { ...verdict.details, channelId: r.channelId });
      throw new PaymentError(`Provider ${route.offer.agentId}: ${verdict.reason}`, {
        code: verdict.code,
        hint: "The provider is flagged and left out of routing; the evidence is in the client's state dir",
        details: { agentId: route.offer.agentId.toString(), channelId: r.channelId, ...verdict.details },
      });
    }
    const transcript = checkTranscript({ transcript: v?.transcript, receipt: verdict.receipt });
    const seedCheck = transcript.ok
      ? checkSeedFields({
          sampling: transcript.transcript.sampling,
          sent: route.seed,
          ...(ctx.requireSeed ? { require: true } : {}),
        })
      : ({ ok: true } as const);
    if (!seedCheck.ok) {
      // The provider signed a seed (or commitment) other than the one it was sent: it chose its own.
      const { code, reason } = seedRefusal(seedCheck);
      ctx.store.orphan(r.id);
      ctx.flags.flag(route.offer.agentId, code, reason, {
        requestId: verdict.receipt.requestId,
        channelId: r.channelId,
      });
      throw new PaymentError(`Provider ${route.offer.agentId}: ${reason}`, {
        code,
        hint: "The provider is flagged and left out of routing; the evidence is in the client's state dir",
        details: { agentId: route.offer.agentId.toString(), channelId: r.channelId, field: seedCheck.field },
      });
    }
    ctx.store.settle(r.id, verdict.receipt.cumulativeCharged);
    ctx.mandate?.settle(r.id, verdict.receipt.charge);
    if (!transcript.ok) {
      // The charge is proven by the receipt, so the answer is delivered; but an answer without a
      // transcript matching its receipt could never be audited, so the provider leaves routing.
      ctx.flags.flag(route.offer.agentId, "transcript_invalid", transcript.detail, {
        requestId: verdict.receipt.requestId,
        channelId: r.channelId,
        transcript: transcript.reason,
      });
    }
    ctx.audits.consider({
      requestId: verdict.receipt.requestId,
      agentId: route.offer.agentId,
      channelId: r.channelId,
      modelId: route.offer.modelId,
      model: route.offer.model,
      kind: req.kind,
      request: req.body,
      output: args.output,
      promptTokenIds: transcript.ok ? transcript.transcript.promptTokenIds : null,
      outputTokenIds: transcript.ok ? transcript.transcript.outputTokenIds : null,
      sampling: transcript.ok ? transcript.transcript.sampling : null,
      receipt: verdict.signed,
      voucherAmount: route.seed?.voucherAmount ?? r.voucherAmount,
      createdAt: Date.now(),
    });
    return {
      requestId: verdict.receipt.requestId,
      charge: verdict.receipt.charge.toString(),
      charged: verdict.receipt.cumulativeCharged.toString(),
      receipt: verdict.signed.receipt,
      signature: verdict.signed.signature as `0x${string}`,
      signer: verdict.signed.signer as `0x${string}`,
      agentId: route.offer.agentId.toString(),
      channelId: r.channelId,
    };
  }

  /** Non-streaming request: the provider's JSON body, with `verity` replaced by the verified payment. */
  async function json<T extends { usage: CompletionUsage; verity: VerityPayment }>(
    route: Route,
    req: PaidRequest,
  ): Promise<T> {
    const response = await send(route, req, req.signal);
    if (!response.ok) {
      ctx.store.release(route.reservation.id);
      throw providerError(response.status, ((await readJson(response)) ?? {}) as ErrorBody, route.offer);
    }
    const body = (await readJson(response)) as
      | (T & { choices?: { message?: { content?: string }; text?: string }[] })
      | undefined;
    if (req.signal?.aborted) {
      // The caller gave up while the answer was arriving: the provider may have charged it.
      ctx.store.orphan(route.reservation.id);
      throw abortedError(route);
    }
    const verity =
      body?.verity ?? (decodeReceiptHeader(response.headers.get(HEADERS.receipt)) as Partial<VerityPayment>);
    const choice = body?.choices?.[0];
    const requestId = response.headers.get(HEADERS.requestId) ?? undefined;
    const payment = await settle(route, req, {
      verity,
      usage: body?.usage,
      ...(requestId ? { requestId } : {}),
      output: choice?.message?.content ?? choice?.text ?? "",
    });
    return { ...(body as T), verity: payment };
  }

  /** Streaming request: resolves once the provider accepted it; iterate for chunks (the last carries usage and the verified payment). */
  async function stream<C extends { choices: unknown[]; usage?: CompletionUsage | null; verity?: VerityPayment }>(
    route: Route,
    req: PaidRequest,
  ): Promise<AsyncIterable<C> & { controller: AbortController }> {
    const controller = new AbortController();
    const signal = req.signal ? AbortSignal.any([req.signal, controller.signal]) : controller.signal;
    const response = await send(route, req, signal);
    if (!response.ok || !response.body) {
      ctx.store.release(route.reservation.id);
      throw providerError(response.status, ((await readJson(response)) ?? {}) as ErrorBody, route.offer);
    }
    const body = response.body;
    const requestId = response.headers.get(HEADERS.requestId) ?? undefined;
    // Aborting our own stream spends the voucher: the provider charges what it delivered (at most
    // the ceiling), so the reservation keeps counting until a later receipt accounts for it.
    const reservationId = route.reservation.id;
    signal.addEventListener("abort", () => ctx.store.orphan(reservationId), { once: true });
    async function* chunks(): AsyncGenerator<C> {
      let done = false;
      let finished = false;
      let output = "";
      try {
        for await (const data of sseData(body)) {
          if (data === "[DONE]") break;
          let chunk: C & { error?: ErrorBody["error"] };
          try {
            chunk = JSON.parse(data) as typeof chunk;
          } catch (cause) {
            throw new RequestError(`Provider ${route.offer.agentId} sent a malformed stream event`, {
              code: "upstream_error",
              cause,
            });
          }
          if (chunk.error) {
            ctx.store.release(route.reservation.id); // the provider failed before completing: nothing charged
            done = true;
            throw providerError(500, { error: chunk.error }, route.offer);
          }
          if (chunk.verity) {
            done = true;
            const payment = await settle(route, req, {
              verity: chunk.verity,
              usage: chunk.usage ?? undefined,
              ...(requestId ? { requestId } : {}),
              output,
            });
            yield { ...chunk, verity: payment };
            continue;
          }
          for (const choice of chunk.choices as {
            delta?: { content?: string };
            text?: string;
            finish_reason?: string | null;
          }[]) {
            output += choice.delta?.content ?? choice.text ?? "";
            if (choice.finish_reason) finished = true;
          }
          yield chunk;
        }
        if (!done && finished) {
          done = true;
          await settle(route, req, { verity: undefined, usage: undefined, output });
        }
        if (!done) {
          throw new RequestError(`The stream from provider ${route.offer.agentId} ended before the answer completed`, {
            code: "upstream_error",
            hint: "Retry; a request the provider did not complete is not charged",
          });
        }
      } finally {
        if (!done) ctx.store.orphan(route.reservation.id); // abandoned or broken: the outcome is unknown
      }
    }
    return { [Symbol.asyncIterator]: chunks, controller };
  }

  return { json, stream };
}

export type PaidRequests = ReturnType<typeof createPaidRequests>;
