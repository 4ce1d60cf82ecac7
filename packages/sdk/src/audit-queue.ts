/**
 * Stores every verified transcript and, for the sampled ones, hands them to a validator: each is
 * queued as "pending" in the store first, then POSTed as JSON to `validatorUrl` (status "sent" on a
 * 2xx). Without a validator URL, or when it fails (network, 5xx, 429), samples stay pending; `flush`
 * retries them. A 4xx answer is final: the sample is marked "rejected" with the validator's reason.
 * A transcript without token ids (the provider sent none matching its receipt) is stored but never
 * sampled: a validator could not re-score it.
 *
 * A sample whose receipt commits to an audit secret (`sampling.auditCommit`) reveals it (`reveal`),
 * with the voucher amount and the audit policy, so the validator can check the commitment, the seed
 * key's derivation and that the draw selected this receipt.
 */
import type { AuditSampler } from "./audit-sampler.ts";
import type { TranscriptSampling } from "./transcript-check.ts";
import { type AuditEntry, isAuditable, type Transcript, type TranscriptStore } from "./transcript-store.ts";

/** What a validator receives (and `onSample` gets): the transcript with the receipt and its deployment. */
export type AuditSample = {
  version: 1;
  chainId: number;
  paymentChannels: `0x${string}`;
  agentId: string;
  channelId: `0x${string}`;
  modelId: string;
  model: string;
  kind: "chat" | "text";
  request: Record<string, unknown>;
  output: string;
  promptTokenIds: number[] | null;
  outputTokenIds: number[] | null;
  /** The resolved sampling parameters the receipt's `paramsHash` commits to; absent when unknown. */
  sampling?: TranscriptSampling;
  receipt: Transcript["receipt"];
  /** The channel's audit secret and what the validator needs to check derivation and selection. */
  reveal?: AuditReveal;
};

export type AuditReveal = {
  auditSecret: `0x${string}`;
  /** Cumulative amount of the voucher that paid the request (decimal). */
  voucherAmount: string;
  /** The policy the draw was made under (`alwaysAuditAbove` as a decimal string when set). */
  policy: { pBase: number; alwaysAuditAbove?: string };
};

export function createAuditQueue(options: {
  transcripts: TranscriptStore;
  sampler: AuditSampler;
  chainId: number;
  paymentChannels: `0x${string}`;
  validatorUrl?: string;
  fetch: typeof fetch;
  onSample?: (sample: AuditSample) => void;
  onError?: (error: unknown) => void;
}) {
  const inFlight = new Set<Promise<unknown>>();
  const posting = new Set<string>();

  function revealOf(t: Transcript): AuditReveal | undefined {
    if (!t.sampling?.auditCommit || t.voucherAmount == null) return undefined;
    const auditSecret = options.sampler.revealable(t);
    if (!auditSecret) return undefined;
    const { pBase, alwaysAuditAbove } = options.sampler.policy;
    return {
      auditSecret,
      voucherAmount: t.voucherAmount.toString(),
      policy: { pBase, ...(alwaysAuditAbove === undefined ? {} : { alwaysAuditAbove: alwaysAuditAbove.toString() }) },
    };
  }

  function toSample(t: Transcript): AuditSample {
    const reveal = revealOf(t);
    return {
      version: 1,
      chainId: options.chainId,
      paymentChannels: options.paymentChannels,
      agentId: t.agentId.toString(),
      channelId: t.channelId,
      modelId: t.modelId.toString(),
      model: t.model,
      kind: t.kind,
      request: t.request,
      output: t.output,
      promptTokenIds: t.promptTokenIds,
      outputTokenIds: t.outputTokenIds,
      ...(t.sampling ? { sampling: t.sampling } : {}),
      receipt: t.receipt,
      ...(reveal ? { reveal } : {}),
    };
  }

  async function post(t: Transcript): Promise<boolean> {
    if (!options.validatorUrl || !isAuditable(t) || posting.has(t.requestId.toLowerCase())) return false;
    posting.add(t.requestId.toLowerCase());
    try {
      const response = await options.fetch(options.validatorUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(toSample(t)),
        signal: AbortSignal.timeout(10_000),
      });
      if (response.status >= 400 && response.status < 500 && response.status !== 429) {
        const text = await response.text().catch(() => "");
        const reason = /"code"\s*:\s*"([a-z0-9_]+)"/.exec(text)?.[1] ?? `http_${response.status}`;
        options.transcripts.markAuditRejected(t.requestId, reason);
        options.onError?.(new Error(`the validator rejected the audit sample: ${reason} (HTTP ${response.status})`));
        return false;
      }
      await response.body?.cancel();
      if (!response.ok) throw new Error(`the validator answered HTTP ${response.status}`);
      options.transcripts.markAuditSent(t.requestId, Date.now());
      return true;
    } catch (error) {
      options.transcripts.markAuditFailed(t.requestId, error instanceof Error ? error.message : String(error));
      options.onError?.(error);
      return false;
    } finally {
      posting.delete(t.requestId.toLowerCase());
    }
  }

  function track(promise: Promise<unknown>): void {
    inFlight.add(promise);
    void promise.finally(() => inFlight.delete(promise));
  }

  return {
    /** Stores the transcript; returns whether it was sampled for audit (and then queues and sends it). */
    consider(t: Transcript): boolean {
      const sampled = isAuditable(t) && options.sampler.sample(t);
      options.transcripts.record(t, sampled);
      if (sampled) {
        options.sampler.retire(t);
        try {
          options.onSample?.(toSample(t));
        } catch (error) {
          options.onError?.(error);
        }
        if (options.validatorUrl) track(post(t));
      }
      return sampled;
    },
    /** Sends every pending sample now; resolves with how many went out and how many are still pending. */
    async flush(): Promise<{ sent: number; pending: number }> {
      await Promise.allSettled([...inFlight]);
      let sent = 0;
      for (const entry of options.transcripts.audits("pending")) if (await post(entry.transcript)) sent++;
      return { sent, pending: options.transcripts.audits("pending").length };
    },
    entries(status?: AuditEntry["status"]): AuditEntry[] {
      return options.transcripts.audits(status);
    },
    /** Resolves once background posts have finished. */
    async idle(): Promise<void> {
      await Promise.allSettled([...inFlight]);
    },
    toSample,
  };
}

export type AuditQueue = ReturnType<typeof createAuditQueue>;
