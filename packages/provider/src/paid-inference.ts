import { randomBytes, randomInt } from "node:crypto";

const ID_POOL = 128;
let idPool = Buffer.alloc(0);
let idOffset = 0;

/**
 * A fresh random 32-byte request id. Drawn from a pool of CSPRNG bytes refilled every 128 ids (as
 * `crypto.randomUUID` does): one call into the CSPRNG instead of one per request; no id is reused.
 */
export function newRequestId(): `0x${string}` {
  if (idOffset >= idPool.length) {
    idPool = randomBytes(32 * ID_POOL);
    idOffset = 0;
  }
  const id = idPool.toString("hex", idOffset, idOffset + 32);
  idOffset += 32;
  return `0x${id}`;
}

import { chargeFor, type Receipt, type RetrievalRecord, type SignedReceiptJson } from "@verity/core";
import type { GenerateChunk, GenerateResult, Prompt } from "@verity/engine";
import { createKeyedLock } from "./keyed-lock.ts";
import type { ProviderMetrics } from "./metrics.ts";
import type { Reservation } from "./payment-gate.ts";
import { receiptHashes } from "./receipt-hashes.ts";
import type { ReceiptSigner } from "./receipt-signer.ts";
import type { ServedModel } from "./served-model.ts";
import type { ProviderStore } from "./store.ts";

const completionLock = createKeyedLock();

export type SamplingRequest = {
  temperature: number;
  topP: number;
  seed?: number;
  maxTokens: number;
  stop: string[];
  /** Seed-synced sampling: the client's seed key (passed to the engine and signed into the params). */
  seedKey?: `0x${string}`;
  /** The client's commitment to its audit secret (signed into the params). */
  auditCommit?: `0x${string}`;
};

/**
 * What the receipt's hashes commit to, sent with every paid response (`verity.transcript`) so the
 * client can keep it for audits: the prompt and output token ids and the resolved sampling
 * parameters, seed (and the seed key and audit commitment, when the request sent them) included.
 */
export type PaidTranscript = {
  promptTokenIds: number[];
  outputTokenIds: number[];
  sampling: {
    temperature: number;
    topP: number;
    seed: number;
    maxTokens: number;
    stop: string[];
    seedKey?: `0x${string}`;
    auditCommit?: `0x${string}`;
    /** What a "model + dataset" offering retrieved (signed into the params). */
    retrieval?: RetrievalRecord;
  };
};

export type PaidResult = {
  requestId: `0x${string}`;
  result: GenerateResult;
  charge: bigint;
  cumulativeCharged: bigint;
  signed: SignedReceiptJson;
  transcript: PaidTranscript;
  /** Whether the model's substitute engine generated this answer (dishonest-provider mode). */
  substituted: boolean;
  /**
   * The client went away before the answer completed. The request is still charged, receipted and
   * persisted for what it consumed: the prompt plus the completion tokens already delivered.
   */
  aborted: boolean;
};

/** Thrown when the client went away before the engine evaluated the prompt: nothing is charged. */
export class RequestAborted extends Error {
  override name = "RequestAborted";
}

/**
 * Runs one paid request: generate, meter, charge `usage × price` (never above the reserved ceiling),
 * sign the receipt, and persist request + charge durably. Only after `recordCompletion` resolves may
 * the caller complete the response. A failure charges nothing.
 *
 * A client that goes away mid-answer pays for what it consumed: the prompt plus the completion
 * tokens already delivered to it (`delivered`; 0 for a non-streamed answer, which is delivered only
 * whole). That charge is receipted (the receipt's output hash commits to the delivered tokens) and
 * persisted with the voucher in the same transaction as a completed request, so the voucher is
 * spent and a replay is `voucher_replayed`. Aborted before the engine evaluated the prompt (still
 * queued): nothing is charged and the voucher stays unused.
 */
export async function runPaidInference(args: {
  model: ServedModel;
  prompt: Prompt;
  /** `prompt` as `model.engine.renderChat` rendered it (used only when that engine answers). */
  renderedPrompt?: readonly number[];
  sampling: SamplingRequest;
  reservation: Reservation;
  /** 32-byte request id the receipt commits to (also the response id). */
  requestId: `0x${string}`;
  store: ProviderStore;
  signer: ReceiptSigner;
  metrics: ProviderMetrics;
  signal?: AbortSignal;
  onChunk?: (chunk: GenerateChunk) => void | Promise<void>;
  /** Output tokens delivered to the client so far (a prefix of the output); read after an abort. */
  delivered?: () => number;
  /** Clock for receipt timestamps and records, in ms (default `Date.now`). */
  now?: () => number;
  /** A "model + dataset" request: the retrieval record the params commit to and the fee it adds. */
  retrieval?: { record: RetrievalRecord; fee: bigint };
}): Promise<PaidResult> {
  const { model, reservation } = args;
  const seed = args.sampling.seed ?? randomInt(0, 0xfffffffe);
  const { temperature, topP, maxTokens, stop, seedKey, auditCommit } = args.sampling;
  // The engine samples with the seed key; the receipt's params also commit to the audit commitment.
  const engineSampling = { temperature, topP, seed, maxTokens, stop: [...stop], ...(seedKey ? { seedKey } : {}) };
  const sampling: PaidTranscript["sampling"] = {
    ...engineSampling,
    ...(auditCommit ? { auditCommit } : {}),
    ...(args.retrieval ? { retrieval: args.retrieval.record } : {}),
  };
  const substituted = model.substitute?.pick() === true;
  const engine = substituted && model.substitute ? model.substitute.engine : model.engine;
  try {
    const generated = await args.model.queue.run(() =>
      engine.generate({
        prompt: args.prompt,
        ...(args.renderedPrompt !== undefined && engine === model.engine
          ? { renderedPrompt: args.renderedPrompt }
          : {}),
        sampling: engineSampling,
        ...(args.signal ? { signal: args.signal } : {}),
        ...(args.onChunk ? { onChunk: args.onChunk } : {}),
      }),
    );
    const aborted = generated.finishReason === "abort" || args.signal?.aborted === true;
    // No sampled token: the prompt was never evaluated (the request waited in the queue).
    if (aborted && generated.outputTokens.length === 0) throw new RequestAborted("client disconnected");
    const result = aborted ? deliveredPart(generated, args.delivered?.() ?? 0) : generated;
    const computed =
      chargeFor({
        price: model.price,
        promptTokens: result.usage.promptTokens,
        completionTokens: result.usage.completionTokens,
      }) + (args.retrieval?.fee ?? 0n);
    const charge = computed < reservation.ceiling ? computed : reservation.ceiling;
    const requestId = args.requestId;
    const createdAt = (args.now ?? Date.now)();
    // Charged total, receipt and persistence are one section per channel, so concurrent requests on
    // a channel each sign the cumulative total that includes every charge persisted before theirs.
    // The record commits inside the section (so the next request's total includes it) and becomes
    // durable after it, with every other request that committed meanwhile (group commit).
    const { signed, cumulativeCharged, durable } = await completionLock(reservation.channel.channelId, async () => {
      const cumulative = reservation.cumulativeAfter(charge);
      const receipt: Receipt = {
        requestId,
        channelId: reservation.channel.channelId,
        modelId: model.modelId,
        promptHash: receiptHashes.tokens(result.promptTokens),
        outputHash: receiptHashes.tokens(result.outputTokens),
        paramsHash: receiptHashes.params(sampling),
        promptTokens: result.usage.promptTokens,
        completionTokens: result.usage.completionTokens,
        charge,
        cumulativeCharged: cumulative,
        timestamp: BigInt(Math.floor(createdAt / 1000)),
      };
      const signedReceipt = await args.signer.sign(receipt);
      const durable = args.store.recordCompletion({
        requestId,
        channelId: reservation.channel.channelId,
        model: model.name,
        voucherAmount: reservation.voucher.cumulativeAmount,
        voucherSignature: reservation.voucher.signature,
        promptTokens: result.usage.promptTokens,
        completionTokens: result.usage.completionTokens,
        charge,
        cumulativeCharged: cumulative,
        receipt: JSON.stringify(signedReceipt.receipt),
        signature: signedReceipt.signature as `0x${string}`,
        createdAt,
      });
      durable.catch(() => {}); // awaited just below; never an unhandled rejection meanwhile
      return { signed: signedReceipt, cumulativeCharged: cumulative, durable };
    });
    await durable;
    args.metrics.tokens.inc({ model: model.name, kind: "prompt" }, result.usage.promptTokens);
    args.metrics.tokens.inc({ model: model.name, kind: "completion" }, result.usage.completionTokens);
    args.metrics.earnings.inc({ model: model.name }, Number(charge));
    if (substituted) {
      model.substitute?.record();
      args.metrics.substituted.inc({ model: model.name });
    }
    const transcript = { promptTokenIds: result.promptTokens, outputTokenIds: result.outputTokens, sampling };
    return { requestId, result, charge, cumulativeCharged, signed, transcript, substituted, aborted };
  } finally {
    reservation.release();
  }
}

/** What an aborted generation delivered: its first `delivered` output tokens (never more than it sampled). */
function deliveredPart(result: GenerateResult, delivered: number): GenerateResult {
  const count = Math.max(0, Math.min(Math.floor(delivered), result.outputTokens.length));
  return {
    ...result,
    outputTokens: result.outputTokens.slice(0, count),
    finishReason: "abort",
    usage: { promptTokens: result.usage.promptTokens, completionTokens: count },
  };
}
