/**
 * Canary prompts: now and then the validator buys an answer itself, through the same SDK client,
 * payment channels and vouchers any client uses, from a provider serving a model it audits, and
 * queues the paid answer for audit through the same intake checks external samples pass. Every
 * canary is audited; one that fails is challenged exactly like a client's sample. Providers cannot
 * tell canaries from other traffic, so even with few clients sampling, cheating stays risky.
 *
 * Spending is capped per rolling 24 h (verified charges, plus the ceiling of any request whose
 * outcome is unknown); channels are opened with a small deposit. Failures are recorded, never thrown.
 */
import type { Deployment } from "@verity/core";
import {
  type AuditSample,
  type ChatCompletionChunk,
  createVerityClient,
  effectiveMaxTokens,
  estimateChatPromptTokens,
  type Offer,
  requestCeiling,
  type VerityClient,
  type VerityPayment,
} from "@verity/sdk";
import type { EIP1193Provider, LocalAccount } from "viem";
import type { AuditRecord } from "./audit-store.ts";
import { canaryRequest, type Random } from "./canary-prompts.ts";
import type { CanaryStore } from "./canary-store.ts";
import type { ValidatorEvent } from "./challenger.ts";
import type { ValidatorMetrics } from "./metrics.ts";
import { reasonOf } from "./validator-reasons.ts";

/** The validator's `canary` option. */
export type CanaryOptions = {
  /** Mean milliseconds between canaries; each wait is drawn from 0.5–1.5× this. 0 turns canaries off. */
  intervalMs: number;
  /** Most spent on canaries in any 24 h, in token base units (default one whole token). */
  maxSpendPerDay?: bigint;
  /** Deposit of each canary channel, in token base units (default a tenth of a token); also the per-request cap. */
  deposit?: bigint;
  /** Largest max_tokens a canary asks for (default 256). */
  maxTokens?: number;
  /** User prompts to draw from instead of the built-in pool. */
  prompts?: readonly string[];
  /**
   * Who pays (default: the validator's own account). The validator's address is public in the
   * validator set; a separately funded account keeps canary channels unlinkable to it, and keeps
   * channel transactions off the validator's nonce sequence.
   */
  account?: LocalAccount;
  /** Offer discovery: an own indexer in the canary's state dir (default) or a gateway's directory. */
  directory?: "indexer" | { gatewayUrl: string };
  /** Longest a canary request may take before it counts as failed (default 120 s). */
  requestTimeoutMs?: number;
};

export type CanaryOutcome =
  | { outcome: "sent"; agentId: bigint; auditId: `0x${string}` | null; charge: bigint; code: string | null }
  | { outcome: "failed"; agentId: bigint; code: string }
  | { outcome: "skipped"; reason: "budget" | "no_offer" | "stopped" | "unavailable" };

/** SDK refusals raised before a voucher is signed: such a request cannot have been charged. */
const BEFORE_VOUCHER = new Set([
  "ceiling_over_cap",
  "no_channel_headroom",
  "unknown_model",
  "no_healthy_offer",
  "offer_over_max_price",
  "max_tokens_over_offer",
  "invalid_request",
  "transaction_reverted",
  "account_unfunded",
  "erc20_insufficient_balance",
]);

/**
 * A random offer, weighted towards cheap ones the way price-driven clients spread their traffic:
 * weight ∝ 1 / (input + output price)².
 */
export function pickOffer(offers: readonly Offer[], random: Random = Math.random): Offer | undefined {
  if (offers.length === 0) return undefined;
  const weights = offers.map((o) => {
    const total = Number(o.inputPricePerMTok + o.outputPricePerMTok) || 1;
    return 1 / (total * total);
  });
  let draw = random() * weights.reduce((a, b) => a + b, 0);
  for (const [i, offer] of offers.entries()) {
    draw -= weights[i] as number;
    if (draw < 0) return offer;
  }
  return offers.at(-1);
}

export function createCanary(options: {
  config: CanaryOptions;
  deployment: Deployment;
  rpcUrl?: string;
  provider?: EIP1193Provider;
  /** The validator's account (the payer unless `config.account` is set). */
  account: LocalAccount;
  /** The SDK client's state (channels, vouchers, transcripts); a restart resumes its channels. */
  stateDir: string;
  store: CanaryStore;
  /** The validator's intake: checks a sample as it would an external one and queues it. */
  admit: (sample: unknown) => Promise<{ record: AuditRecord; created: boolean }>;
  /** Model ids this validator audits. */
  audited: () => readonly { modelId: bigint }[];
  metrics: ValidatorMetrics;
  indexerPollMs?: number;
  random?: Random;
  onEvent?: (event: ValidatorEvent) => void;
  onError?: (error: unknown) => void;
}) {
  const { config, store, metrics } = options;
  const random = options.random ?? Math.random;
  const unit = 10n ** BigInt(options.deployment.token.decimals);
  const maxSpendPerDay = config.maxSpendPerDay ?? unit;
  const deposit = config.deposit ?? unit / 10n;
  const maxTokens = config.maxTokens ?? 256;
  /** Samples the SDK handed over (p = 1), by request id, until the canary that paid for them takes them. */
  const samples = new Map<string, AuditSample>();
  let client: VerityClient | undefined;
  let stopped = true;
  /** Set by stop(): no canary starts after it (the SDK client is closed). */
  let closed = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let tail: Promise<unknown> = Promise.resolve();

  function sdk(): VerityClient {
    client ??= createVerityClient({
      ...(options.rpcUrl === undefined ? {} : { rpcUrl: options.rpcUrl }),
      ...(options.provider === undefined ? {} : { provider: options.provider }),
      deployment: options.deployment,
      account: config.account ?? options.account,
      stateDir: options.stateDir,
      ...(config.directory ? { directory: config.directory } : {}),
      ...(options.indexerPollMs === undefined ? {} : { indexerPollMs: options.indexerPollMs }),
      audit: { p: 1, onSample: (sample) => samples.set(sample.receipt.receipt.requestId.toLowerCase(), sample) },
      autoOpen: { amount: deposit },
      maxCeiling: deposit,
      ...(options.onError ? { onError: options.onError } : {}),
    });
    return client;
  }

  function emit(event: ValidatorEvent): void {
    try {
      options.onEvent?.(event);
    } catch (error) {
      options.onError?.(error);
    }
  }

  function skipped(reason: "budget" | "no_offer" | "unavailable"): CanaryOutcome {
    metrics.canaries.inc({ outcome: `skipped_${reason}` });
    return { outcome: "skipped", reason };
  }

  /** Sends the request and reads it to the end; returns the verified payment. */
  async function send(
    c: VerityClient,
    request: ReturnType<typeof canaryRequest>,
    agentId: bigint,
  ): Promise<VerityPayment> {
    const routing = { agentId, signal: AbortSignal.timeout(config.requestTimeoutMs ?? 120_000) };
    if (request.stream === true) {
      let payment: VerityPayment | undefined;
      const stream = await c.chat.completions.create(request, routing);
      for await (const chunk of stream as AsyncIterable<ChatCompletionChunk>) if (chunk.verity) payment = chunk.verity;
      if (!payment) throw new Error("the stream ended without its payment chunk");
      return payment;
    }
    return (await c.chat.completions.create({ ...request, stream: false }, routing)).verity;
  }

  async function attempt(): Promise<CanaryOutcome> {
    if (closed) return { outcome: "skipped", reason: "stopped" };
    const c = sdk();
    const audited = new Set(options.audited().map((m) => m.modelId));
    let offers: Offer[];
    try {
      const flagged = new Set((await c.flagged()).map((f) => f.agentId));
      offers = (await c.offers()).filter((o) => o.healthy && audited.has(o.modelId) && !flagged.has(o.agentId));
    } catch (error) {
      options.onError?.(error);
      return skipped("unavailable");
    }
    const offer = pickOffer(offers, random);
    if (!offer) return skipped("no_offer");
    const request = canaryRequest({
      model: offer.model,
      maxTokens,
      offerMaxTokens: offer.maxOutputTokens,
      random,
      ...(config.prompts ? { prompts: config.prompts } : {}),
    });
    const ceiling = requestCeiling({
      price: { inputPerMTok: offer.inputPricePerMTok, outputPerMTok: offer.outputPricePerMTok },
      promptTokens: estimateChatPromptTokens(request.messages),
      maxTokens: effectiveMaxTokens({
        kind: "chat",
        maxTokens: request.max_completion_tokens ?? request.max_tokens,
        offerMaxOutputTokens: offer.maxOutputTokens,
      }),
    });
    const now = Date.now();
    if (store.budgetUsed(now) + ceiling > maxSpendPerDay) return skipped("budget");
    const seq = store.begin({ agentId: offer.agentId, modelId: offer.modelId, ceiling, at: now });
    const base = { event: "canary", agentId: offer.agentId.toString(), model: offer.model };
    let payment: VerityPayment;
    try {
      payment = await send(c, request, offer.agentId);
    } catch (error) {
      const code = reasonOf(error);
      store.failed({ seq, code, atRisk: !BEFORE_VOUCHER.has(code), at: Date.now() });
      metrics.canaries.inc({ outcome: "failed" });
      emit({ ...base, outcome: "failed", code, message: (error as Error)?.message ?? String(error) });
      return { outcome: "failed", agentId: offer.agentId, code };
    }
    const charge = BigInt(payment.charge);
    metrics.canarySpend.inc(Number(charge));
    const sample = samples.get(payment.requestId.toLowerCase());
    samples.delete(payment.requestId.toLowerCase());
    let auditId: `0x${string}` | null = null;
    let code: string | null = null;
    if (!sample) {
      code = "audit_sample_invalid"; // the provider sent no token ids matching its receipt: nothing to re-score
    } else {
      try {
        auditId = (await options.admit(sample)).record.id;
      } catch (error) {
        code = reasonOf(error);
      }
    }
    store.sent({ seq, requestId: payment.requestId, charge, auditId, code, at: Date.now() });
    metrics.canaries.inc({ outcome: auditId ? "sent" : "refused" });
    emit({ ...base, outcome: "sent", requestId: payment.requestId, charge: charge.toString(), auditId, code });
    return { outcome: "sent", agentId: offer.agentId, auditId, charge, code };
  }

  /** One canary now (serialised with the timer's); never throws. */
  function runOnce(): Promise<CanaryOutcome> {
    const run = tail.then(async () => {
      try {
        return await attempt();
      } catch (error) {
        options.onError?.(error);
        return skipped("unavailable");
      }
    });
    tail = run.catch(() => undefined);
    return run;
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });
  }

  return {
    runOnce,
    /** Marks canaries a previous process left in flight, then sends one every `intervalMs` on average. */
    start(): void {
      if (!stopped || closed) return;
      stopped = false;
      store.interrupted(Date.now());
      if (config.intervalMs <= 0) return;
      loop = (async () => {
        while (!stopped) {
          await sleep(config.intervalMs * (0.5 + random()));
          if (!stopped) await runOnce();
        }
      })();
    },
    /** Stops the timer, waits for a canary in flight, and closes the SDK client (its state stays on disk). */
    async stop(): Promise<void> {
      stopped = true;
      closed = true;
      wake?.();
      await loop;
      loop = undefined;
      await tail;
      await client?.stop();
      client = undefined;
    },
    /** Whether an audit came from a canary. */
    isCanary: (auditId: string) => store.isCanary(auditId),
    /** The SDK client paying for canaries (its channels, transcripts and flags). */
    get client(): VerityClient | undefined {
      return client;
    },
  };
}

export type Canary = ReturnType<typeof createCanary>;
