import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  connectChain,
  createIndexer,
  createVoucherVerifier,
  type Indexer,
  type Listening,
  listen,
  verifyDeployment,
} from "@verity/chain";
import { ChainError, ConfigError, type Deployment } from "@verity/core";
import type { AnnouncedManifest, Engine } from "@verity/engine";
import type { EIP1193Provider, LocalAccount } from "viem";
import { createProviderApp } from "./app.ts";
import { createChannelMirror } from "./channel-mirror.ts";
import { type ClaimPolicy, type ClaimReport, createClaimer, type SkippedClaim } from "./claimer.ts";
import { openDatasetOffering } from "./dataset-offering.ts";
import type { PayoutPolicy, WithdrawReport } from "./earnings-withdrawer.ts";
import { createProviderMetrics } from "./metrics.ts";
import { onboardProvider } from "./onboard.ts";
import { createPaymentGate } from "./payment-gate.ts";
import { createReceiptSigner } from "./receipt-signer.ts";
import type { ServedModel } from "./served-model.ts";
import { createProviderStore } from "./store.ts";
import { createSubstitution, type SubstitutedAnswer, type SubstituteOptions, type Substitution } from "./substitute.ts";
import { createUpstreamHealth, type UpstreamHealthState } from "./upstream-health.ts";
import { createWorkQueue } from "./work-queue.ts";
import { createX402Door, type X402Door } from "./x402-door.ts";

export type ProviderModelOptions = {
  engine: Engine;
  inputPricePerMTok: bigint;
  outputPricePerMTok: bigint;
  maxOutputTokens: number;
  registerModelIfMissing?: boolean;
  /**
   * Devnets and simulations only: on a fraction `rate` of paid requests, generate with `engine`
   * (a cheaper model with the same tokenizer) while charging and receipting this model — a cheater
   * that audits should catch and disputes slash.
   */
  substitute?: SubstituteOptions;
  /** The manifest the model is served under (announced in /v1/models, /health and the registration file). */
  manifest?: AnnouncedManifest;
  /**
   * An external engine serves the model (`--upstream`): probed every `intervalMs` (default 2 s);
   * while it is down paid requests are refused with `upstream_down` and `/health` answers 503.
   */
  upstream?: { probe: () => Promise<void>; intervalMs?: number };
  /**
   * Refuse channel-paid requests without a seed key and audit commitment (`missing_seed`). Default
   * false: requests from older clients are served and receipted without a seed key. Ignored for an
   * upstream-served model, which cannot sample with a seed key (it signs params without one).
   */
  requireSeed?: boolean;
  /**
   * Serve "model + dataset" as one offering (`--dataset`, `--dataset-file`): the model named
   * `<engine>+data-<id>` under the composite model id (`compositeIdentity`), which must be registered
   * and credit the dataset; every request retrieves from `file` (checked against the dataset's digest).
   */
  dataset?: { datasetId: bigint; file: string; k?: number };
};

export type ProviderOptions = {
  deployment: Deployment;
  rpcUrl?: string;
  provider?: EIP1193Provider;
  account: LocalAccount;
  models: readonly ProviderModelOptions[];
  /** Bonded stake to hold, in payment-token base units. */
  stake: bigint;
  host?: string;
  port?: number;
  /** URL clients use (published in the offer); defaults to the listening URL. */
  publicUrl?: string;
  /** Folder for the provider's stores and state (created if missing). */
  dataDir: string;
  /**
   * What the operator promises about request data, announced in `/health` and the registration
   * file: "deny" = prompts and answers are kept only as audit transcripts for the audit window and
   * never used otherwise (gateways route `provider.data_collection: "deny"` only to these); default
   * "allow" (no promise).
   */
  dataCollection?: "allow" | "deny";
  claim?: Partial<ClaimPolicy>;
  /**
   * When to withdraw the agent's earnings that claims credit (default: at ≥ 10 TUSD or hourly, and
   * on stop); `false`: never (withdraw with `verity provider withdraw`).
   */
  payout?: Partial<PayoutPolicy> | false;
  /**
   * Accept x402 batch-settlement from payers without a Verity channel (default: where the scheme's
   * contract is at its canonical address), with its claim and sweep intervals in seconds.
   */
  x402?: boolean | { claimIntervalSeconds?: number; settleIntervalSeconds?: number };
  /** Requests allowed to wait per model before 429 (default 16). */
  maxQueued?: number;
  operatorKey?: string;
  /** Tests only: the clock receipts are timestamped with, in ms (default `Date.now`). */
  receiptClock?: () => number;
  name?: string;
  /** What the A2A Agent Card says beyond the offers (handler agents: description, per-task prices). */
  agentCard?: import("./app.ts").ProviderAppDeps["agentCard"];
  indexerPollMs?: number;
  onStep?: (step: string) => void;
  onClaim?: (report: ClaimReport) => void;
  onWithdraw?: (report: WithdrawReport) => void;
  onError?: (error: unknown) => void;
  /** An upstream went down or came back. */
  onUpstream?: (event: { model: string } & UpstreamHealthState) => void;
};

export type ProviderInfo = {
  url: string;
  agentId: bigint;
  address: `0x${string}`;
  models: { name: string; modelId: bigint; offerId: bigint; inputPricePerMTok: bigint; outputPricePerMTok: bigint }[];
};

type State = { chainId: number; paymentChannels: string; agentId: string };

function readState(path: string, deployment: Deployment): State | undefined {
  if (!existsSync(path)) return undefined;
  const state = JSON.parse(readFileSync(path, "utf8")) as State;
  if (
    state.chainId !== deployment.chainId ||
    state.paymentChannels.toLowerCase() !== deployment.contracts.PaymentChannels.address.toLowerCase()
  ) {
    throw new ConfigError(`The data dir ${path} belongs to another deployment (chain ${state.chainId})`, {
      code: "deployment_mismatch",
      hint: "Use a fresh --data-dir for this deployment",
    });
  }
  return state;
}

/**
 * A Verity provider node: goes on-chain (agent, stake, offers), serves the OpenAI-compatible API
 * with voucher payment, persists every charge before completing its response, and claims in
 * batches. `stop()` refuses new work, lets in-flight requests finish, and makes a final claim.
 */
export function createProvider(options: ProviderOptions) {
  let listening: Listening | undefined;
  let indexer: Indexer | undefined;
  let handler: (request: Request) => Response | Promise<Response> = () =>
    Response.json(
      { error: { code: "internal_error", message: "The provider is starting", hint: "Retry in a moment" } },
      { status: 503 },
    );
  let draining = false;
  const cleanups: (() => Promise<void> | void)[] = [];
  const metrics = createProviderMetrics();
  const served = new Map<string, ServedModel>();
  const startedAt = Date.now();
  let claimer: ReturnType<typeof createClaimer> | undefined;
  let store: ReturnType<typeof createProviderStore> | undefined;
  let x402Door: X402Door | undefined;
  let info: ProviderInfo | undefined;
  // Checked up front, so a bad rate or a mismatched substitute fails before anything goes on-chain.
  const substitutions: (Substitution | undefined)[] = options.models.map((m) =>
    m.substitute ? createSubstitution({ offered: m.engine, substitute: m.substitute }) : undefined,
  );

  async function start(): Promise<ProviderInfo> {
    const { deployment } = options;
    const step = options.onStep ?? (() => {});
    mkdirSync(options.dataDir, { recursive: true });
    const statePath = join(options.dataDir, "state.json");
    const state = readState(statePath, deployment);
    const clients = await connectChain({
      ...(options.rpcUrl === undefined ? {} : { rpcUrl: options.rpcUrl }),
      ...(options.provider === undefined ? {} : { provider: options.provider }),
      account: options.account,
      expectedChainId: deployment.chainId,
    });
    await verifyDeployment({ publicClient: clients.publicClient, deployment });
    // A "model + dataset" offering: the corpus must be the registered dataset before anything is offered.
    const corpora = await Promise.all(
      options.models.map((m) =>
        m.dataset
          ? openDatasetOffering({
              publicClient: clients.publicClient as never,
              deployment,
              base: m.engine.identity,
              datasetId: m.dataset.datasetId,
              file: m.dataset.file,
              ...(m.dataset.k === undefined ? {} : { k: m.dataset.k }),
            })
          : undefined,
      ),
    );
    const offerName = (m: ProviderModelOptions) =>
      m.dataset ? `${m.engine.name}+data-${m.dataset.datasetId}` : m.engine.name;
    listening = await listen({
      fetch: (request) =>
        draining
          ? Response.json(
              { error: { code: "rate_limited", message: "The provider is shutting down" } },
              { status: 503, headers: { "Retry-After": "5" } },
            )
          : handler(request),
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.port === undefined ? {} : { port: options.port }),
    });
    const publicUrl = options.publicUrl ?? listening.url;
    step(`listening on ${listening.url}`);
    const onboarded = await onboardProvider({
      clients,
      deployment,
      ...(state ? { agentId: BigInt(state.agentId) } : {}),
      agentURI: `${publicUrl}/.well-known/agent-registration.json`,
      stake: options.stake,
      endpoint: publicUrl,
      offers: options.models.map((m, i) => ({
        name: offerName(m),
        identity: corpora[i]?.identity ?? m.engine.identity,
        inputPricePerMTok: m.inputPricePerMTok,
        outputPricePerMTok: m.outputPricePerMTok,
        maxOutputTokens: m.maxOutputTokens,
        ...(m.dataset
          ? { registerModelIfMissing: false }
          : m.registerModelIfMissing === undefined
            ? {}
            : { registerModelIfMissing: m.registerModelIfMissing }),
      })),
      onStep: step,
    });
    writeFileSync(
      statePath,
      JSON.stringify(
        {
          chainId: deployment.chainId,
          paymentChannels: deployment.contracts.PaymentChannels.address,
          agentId: onboarded.agentId.toString(),
        },
        null,
        2,
      ),
    );

    indexer = createIndexer({
      deployment,
      publicClient: clients.publicClient,
      db: join(options.dataDir, "index.sqlite"),
      pollMs: options.indexerPollMs ?? 500,
      ...(options.onError ? { onError: options.onError } : {}),
    });
    await indexer.syncOnce();
    indexer.start();
    const mirror = createChannelMirror({ indexer, agentId: onboarded.agentId });
    store = createProviderStore({ path: join(options.dataDir, "provider.sqlite") });
    const paymentChannels = deployment.contracts.PaymentChannels.address;
    const gate = createPaymentGate({
      mirror,
      store,
      verifier: createVoucherVerifier({ chainId: deployment.chainId, verifyingContract: paymentChannels }),
      chainId: deployment.chainId,
      paymentChannels,
      receiptSigner: options.account.address,
    });
    for (const [i, m] of options.models.entries()) {
      const offer = onboarded.offers[i];
      if (!offer) continue;
      const retrieval = corpora[i]?.offering;
      const health = m.upstream
        ? createUpstreamHealth({
            probe: m.upstream.probe,
            ...(m.upstream.intervalMs === undefined ? {} : { intervalMs: m.upstream.intervalMs }),
            onChange: (s) => options.onUpstream?.({ model: m.engine.name, ...s }),
          })
        : undefined;
      if (health) {
        health.start();
        cleanups.push(() => health.stop());
      }
      served.set(offerName(m), {
        name: offerName(m),
        ...(retrieval ? { retrieval } : {}),
        engine: health ? withFailureReport(m.engine, health.failed) : m.engine,
        ...(m.manifest ? { manifest: m.manifest } : {}),
        ...(health ? { health } : {}),
        modelId: offer.modelId,
        price: { inputPerMTok: m.inputPricePerMTok, outputPerMTok: m.outputPricePerMTok },
        maxOutputTokens: m.maxOutputTokens,
        queue: createWorkQueue({ maxQueued: options.maxQueued ?? 16 }),
        // An external (OpenAI-compatible) engine samples with its own RNG: no seed-synced sampling.
        seedSync: m.upstream === undefined,
        ...(m.requireSeed ? { requireSeed: true } : {}),
        ...(substitutions[i] ? { substitute: substitutions[i] } : {}),
      });
    }
    const activeStore = store;
    const x402 =
      options.x402 === false
        ? undefined
        : createX402Door({
            chainId: deployment.chainId,
            token: deployment.token,
            clients: { publicClient: clients.publicClient as never, walletClient: clients.walletClient as never },
            path: join(options.dataDir, "x402.sqlite"),
            ...(typeof options.x402 === "object" ? options.x402 : {}),
            ...(options.onError ? { onError: options.onError } : {}),
          });
    if (x402) cleanups.push(() => x402.stop());
    x402Door = x402;
    const app = createProviderApp({
      ...(x402 ? { x402 } : {}),
      models: served,
      gate,
      store: activeStore,
      signer: createReceiptSigner({ account: options.account, chainId: deployment.chainId, paymentChannels }),
      metrics,
      chainId: deployment.chainId,
      paymentChannels,
      token: deployment.token.address,
      agentId: onboarded.agentId,
      agentRegistry: deployment.contracts.AgentRegistry.address,
      name: options.name ?? `verity-provider-${onboarded.agentId}`,
      dataCollection: options.dataCollection ?? "allow",
      startedAt,
      publicUrl: () => publicUrl,
      account: options.account,
      ...(options.agentCard ? { agentCard: options.agentCard } : {}),
      ...(options.operatorKey === undefined ? {} : { operatorKey: options.operatorKey }),
      ...(options.receiptClock === undefined ? {} : { receiptClock: options.receiptClock }),
      health: () => {
        const totals = activeStore.totals();
        const down = [...served.values()].filter((m) => m.health && !m.health.state.up);
        return {
          ...(down.length > 0
            ? {
                status: "upstream_down",
                upstreamDown: down.map((m) => ({
                  model: m.name,
                  reason: m.health?.state.reason,
                  since: m.health?.state.since,
                })),
              }
            : {}),
          served: [...served.values()].map((m) => ({
            model: m.name,
            ...(m.manifest ? { quantization: m.manifest.quantization, manifestHash: m.manifest.manifestHash } : {}),
            ...(m.health ? { upstream: m.health.state.up ? "up" : "down" } : {}),
          })),
          agentId: onboarded.agentId.toString(),
          dataCollection: options.dataCollection ?? "allow",
          models: [...served.keys()],
          queueDepth: [...served.values()].reduce((n, m) => n + m.queue.depth, 0),
          inFlight: [...served.values()].reduce((n, m) => n + m.queue.running, 0),
          uptimeSeconds: Math.floor((Date.now() - startedAt) / 1000),
          requests: totals.requests,
          charged: totals.charged.toString(),
          claimed: totals.claimed.toString(),
        };
      },
    });
    handler = app.fetch;
    claimer = createClaimer({
      store: activeStore,
      clients,
      paymentChannels,
      mirror,
      ...(options.claim ? { policy: options.claim } : {}),
      ...(options.payout === false
        ? {}
        : { agentId: onboarded.agentId, ...(options.payout ? { payout: options.payout } : {}) }),
      ...(options.onWithdraw ? { onWithdraw: options.onWithdraw } : {}),
      onClaim: (report) => {
        updateClaimMetrics();
        options.onClaim?.(report);
      },
      ...(options.onError
        ? {
            onError: options.onError,
            onSkip: (skip: SkippedClaim) =>
              options.onError?.(
                new ChainError(`The claim of channel ${skip.channelId} was skipped (${skip.reason})`, {
                  code: skip.reason,
                  details: skip,
                }),
              ),
          }
        : {}),
    });
    await claimer.reconcile();
    claimer.start();
    const gauges = setInterval(updateClaimMetrics, 5_000);
    gauges.unref();
    cleanups.push(
      () => clearInterval(gauges),
      () => mirror.close(),
    );
    info = {
      url: publicUrl,
      agentId: onboarded.agentId,
      address: options.account.address,
      models: onboarded.offers.map((o, i) => ({
        name: o.name,
        modelId: o.modelId,
        offerId: o.offerId,
        inputPricePerMTok: options.models[i]?.inputPricePerMTok ?? 0n,
        outputPricePerMTok: options.models[i]?.outputPricePerMTok ?? 0n,
      })),
    };
    return info;
  }

  function updateClaimMetrics(): void {
    if (!store) return;
    const open = store.unclaimed();
    metrics.unclaimed.set(Number(open.reduce((s, c) => s + (c.charged - c.claimed), 0n)));
    const oldest = Math.min(...open.map((c) => c.firstUnclaimedAt ?? Date.now()), Date.now());
    metrics.claimLag.set((Date.now() - oldest) / 1000);
    for (const m of served.values()) metrics.queueDepth.set({ model: m.name }, m.queue.depth);
  }

  async function stop(options_: { finalClaim?: boolean; drainMs?: number } = {}): Promise<void> {
    draining = true;
    const deadline = Date.now() + (options_.drainMs ?? 30_000);
    const busy = () => [...served.values()].some((m) => m.queue.running > 0 || m.queue.depth > 0);
    while (busy() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 50)); // let the last SSE frames flush
    if (options_.finalClaim !== false && claimer) {
      try {
        await claimer.claimNow(true);
      } catch (error) {
        options.onError?.(error);
      }
    }
    await claimer?.stop(); // also withdraws the earnings the claims credited

    await indexer?.stop();
    for (const cleanup of cleanups.splice(0)) await cleanup();
    await listening?.close();
    store?.close();
    indexer?.db.close();
  }

  return {
    start,
    stop,
    metrics,
    get info(): ProviderInfo | undefined {
      return info;
    },
    /** The x402 batch-settlement door (undefined when off or not started). */
    get x402(): X402Door | undefined {
      return x402Door;
    },
    get claimer() {
      return claimer;
    },
    get store() {
      return store;
    },
    /** Paid requests a substitute engine served (dishonest-provider mode), for one offered model or all. */
    substitutedCount(model?: string): number {
      return options.models.reduce(
        (n, m, i) => (model === undefined || m.engine.name === model ? n + (substitutions[i]?.count ?? 0) : n),
        0,
      );
    },
    /**
     * Ground truth for simulations: the answers a substitute engine generated (dishonest-provider
     * mode), by the receipt hashes they carry, for one offered model or all.
     */
    substitutedAnswers(model?: string): (SubstitutedAnswer & { model: string })[] {
      return options.models.flatMap((m, i) =>
        model === undefined || m.engine.name === model
          ? (substitutions[i]?.answers() ?? []).map((a) => ({ ...a, model: m.engine.name }))
          : [],
      );
    },
  };
}

export type Provider = ReturnType<typeof createProvider>;

/** The engine with every upstream failure of `generate` reported to the model's health. */
function withFailureReport(engine: Engine, failed: (error: unknown) => void): Engine {
  return {
    ...engine,
    async generate(request) {
      try {
        return await engine.generate(request);
      } catch (error) {
        failed(error);
        throw error;
      }
    },
  };
}
