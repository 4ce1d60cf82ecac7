/**
 * A Verity validator node: goes on-chain (agent identity, validator bond), takes audit samples over
 * HTTP into a durable queue, audits them one at a time, challenges failed ones with evidence it
 * serves itself, and does committee duty (re-audit, commit, reveal, resolve) on disputes it is drawn for.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  connectChain,
  createChannelReader,
  type Listening,
  listen,
  openDatabase,
  verifyDeployment,
} from "@verity/chain";
import { ConfigError, type Deployment, RequestError } from "@verity/core";
import type { Engine } from "@verity/engine";
import type { EIP1193Provider, LocalAccount } from "viem";
import { createValidatorApp } from "./app.ts";
import { createAuditRunner } from "./audit-runner.ts";
import { type AuditRecord, createAuditStore } from "./audit-store.ts";
import { createAuditWorker } from "./audit-worker.ts";
import { type Canary, type CanaryOptions, createCanary } from "./canary.ts";
import { createCanaryStore } from "./canary-store.ts";
import { createChainClock } from "./chain-clock.ts";
import { createChallenger, type ValidatorEvent } from "./challenger.ts";
import { createCommittee } from "./committee.ts";
import { createCommitteeDraw } from "./committee-draw.ts";
import { disputeWindowsReader } from "./dispute-resolution.ts";
import { createDisputeStore } from "./dispute-store.ts";
import { createDisputeWatcher } from "./dispute-watcher.ts";
import { createValidatorMetrics } from "./metrics.ts";
import { createModelResolver } from "./model-resolver.ts";
import { onboardValidator } from "./onboard.ts";
import { createPooledChallenger } from "./pooled-challenger.ts";
import { createProviderEvidence, logAudit } from "./provider-evidence.ts";
import { createRefundRelease } from "./refund-release.ts";
import { registrationFile } from "./registration.ts";
import { auditWindowReader, preflightSample, verifySampleOnChain } from "./sample-checks.ts";
import { DEFAULT_SPRT, type SprtParams } from "./sprt.ts";
import type { Thresholds } from "./thresholds.ts";
import { createToolCallReporter } from "./tool-call-reporter.ts";
import { createTxSender } from "./tx-sender.ts";
import { validatorStats } from "./validator-stats.ts";

export type ValidatorOptions = {
  deployment: Deployment;
  rpcUrl?: string;
  provider?: EIP1193Provider;
  account: LocalAccount;
  /** Loaded engines of the models this validator audits (the caller closes them). */
  models: readonly Engine[];
  host?: string;
  port?: number;
  /** Base URL others reach this validator at (evidence URIs, registration); defaults to the listening URL. */
  publicUrl?: string;
  /** Folder for the validator's database and state (created if missing). */
  dataDir: string;
  name?: string;
  thresholds?: Thresholds;
  /**
   * Loaded engines of cheaper variants to test each audited model against, by audited model name
   * (e.g. `{ "verity-tiny": [its Q4_0 engine] }`; the caller closes them). Committee members should
   * run the same suspects, or they may not confirm a verdict that rests on them.
   */
  suspects?: Readonly<Record<string, readonly Engine[]>>;
  /**
   * Pooled-test parameters (default `DEFAULT_SPRT`): used for this validator's pooled challenges and
   * for its votes on pooled evidence.
   */
  sprt?: SprtParams;
  /** Milliseconds between chain polls (disputes, challenges, votes; default 2,000). */
  pollMs?: number;
  maxBodyBytes?: number;
  /** Samples allowed to wait for an audit before the intake answers 429 (default 10,000). */
  maxQueued?: number;
  /** Chain seconds a committee member waits after the reveal window before resolving itself (default 60). */
  resolveGraceSeconds?: number;
  /**
   * Makes the chain produce a block, for chains that mine only on transactions (a devnet): a
   * challenge's committee is drawn from the block after it, and the challenger draws it once that
   * block exists. Leave unset on chains that make blocks by themselves.
   */
  advanceChain?: () => Promise<void>;
  /**
   * Canary prompts (off by default): paid requests the validator sends itself, like any client, to
   * providers of the models it audits; each answer is queued for audit through the intake checks.
   * The SDK client's state lives in `dataDir/canary`.
   */
  canary?: CanaryOptions;
  /**
   * Publishing tool-call scores as ERC-8004 feedback (`tool-call-reporter.ts`): a provider is
   * reported once at least `minNewCalls` (default 20) tool calls were scored since its last report,
   * at most once per `minIntervalMs` (default one hour). `false` turns it off.
   */
  toolCallReporting?: false | { minNewCalls?: number; minIntervalMs?: number };
  onStep?: (step: string) => void;
  onEvent?: (event: ValidatorEvent) => void;
  onError?: (error: unknown) => void;
};

export type ValidatorInfo = {
  url: string;
  agentId: bigint;
  address: `0x${string}`;
  models: { name: string; modelId: bigint }[];
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

export function createValidator(options: ValidatorOptions) {
  const metrics = createValidatorMetrics();
  const startedAt = Date.now();
  const onError = options.onError ?? (() => {});
  let handler: (request: Request) => Response | Promise<Response> = () =>
    Response.json(
      { error: { code: "internal_error", message: "The validator is starting", hint: "Retry in a moment" } },
      { status: 503 },
    );
  let listening: Listening | undefined;
  let info: ValidatorInfo | undefined;
  let stopped = false;
  let chainLoop: Promise<void> | undefined;
  let wakeChain: (() => void) | undefined;
  let closeDb: (() => void) | undefined;
  let stopWorker: (() => Promise<void>) | undefined;
  let canary: Canary | undefined;
  let stats: () => ReturnType<typeof validatorStats> = () => {
    throw new ConfigError("The validator has not started", { code: "invalid_parameter", hint: "Call start() first" });
  };

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeChain = undefined;
        resolve();
      }
      wakeChain = done;
    });
  }

  async function start(): Promise<ValidatorInfo> {
    try {
      return await startOnce();
    } catch (error) {
      await stop(); // release the port and the database of a start that failed half-way
      throw error;
    }
  }

  async function startOnce(): Promise<ValidatorInfo> {
    const { deployment } = options;
    const step = options.onStep ?? (() => {});
    const emit = (event: ValidatorEvent) => {
      try {
        options.onEvent?.(event);
      } catch (error) {
        onError(error);
      }
    };
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
    const db = openDatabase(join(options.dataDir, "validator.sqlite"));
    closeDb = () => db.close();
    const audits = createAuditStore(db);
    const disputes = createDisputeStore(db);
    const canaries = createCanaryStore(db);
    const providerEvidence = createProviderEvidence(db);
    const sprt = options.sprt ?? DEFAULT_SPRT;
    listening = await listen({
      fetch: (request) => handler(request),
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.port === undefined ? {} : { port: options.port }),
    });
    const publicUrl = (options.publicUrl ?? listening.url).replace(/\/+$/, "");
    step(`listening on ${listening.url}`);
    const sender = createTxSender(clients);
    const onboarded = await onboardValidator({
      clients,
      deployment,
      sender,
      ...(state ? { agentId: BigInt(state.agentId) } : {}),
      agentURI: `${publicUrl}/.well-known/agent-registration.json`,
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
    const c = deployment.contracts;
    const resolver = createModelResolver({
      publicClient: clients.publicClient,
      modelRegistry: c.ModelRegistry.address,
      engines: options.models,
    });
    await resolver.refresh();
    const clock = createChainClock({ publicClient: clients.publicClient });
    const runner = createAuditRunner({
      metrics,
      ...(options.thresholds ? { thresholds: options.thresholds } : {}),
      ...(options.suspects ? { suspects: options.suspects } : {}),
    });
    const windows = disputeWindowsReader({ publicClient: clients.publicClient, disputes: c.Disputes.address });
    const auditWindow = auditWindowReader({ publicClient: clients.publicClient, disputes: c.Disputes.address });
    const channels = createChannelReader({
      publicClient: clients.publicClient,
      paymentChannels: c.PaymentChannels.address,
      fromBlock: BigInt(deployment.startBlock),
    });
    const worker = createAuditWorker({
      store: audits,
      resolver,
      runner,
      metrics,
      onError,
      onAudited: (record) => {
        logAudit({ store: providerEvidence, record, sample: audits.sampleOf(record.id), at: Date.now() });
        const isCanary = canaries.isCanary(record.id);
        if (isCanary) {
          const verdict = record.status === "passed" ? "pass" : record.status === "failed" ? "fail" : "error";
          metrics.canaryAudits.inc({ verdict });
        }
        emit({
          event: "audit",
          ...(isCanary ? { canary: true } : {}),
          auditId: record.id,
          agentId: record.agentId,
          modelId: record.modelId,
          status: record.status,
          pass: record.verdict?.pass ?? null,
          reasons: record.verdict?.reasons ?? [],
          error: record.error,
          tokens: record.compute.tokens,
          seconds: record.compute.seconds,
        });
        if (record.challenge?.status === "pending") wakeChain?.();
      },
    });
    const challenger = createChallenger({
      audits,
      disputes,
      clients,
      deployment,
      sender,
      metrics,
      publicUrl: () => publicUrl,
      windows,
      onEvent: emit,
      onError,
    });
    const pooledChallenger = createPooledChallenger({
      audits,
      evidence: providerEvidence,
      disputes,
      clients,
      deployment,
      sender,
      metrics,
      params: sprt,
      publicUrl: () => publicUrl,
      windows,
      onEvent: emit,
      onError,
    });
    const draw = createCommitteeDraw({
      clients,
      deployment,
      store: disputes,
      sender,
      windows,
      ...(options.advanceChain ? { advanceChain: options.advanceChain } : {}),
      onEvent: emit,
    });
    const refunds = createRefundRelease({ clients, deployment, store: disputes, sender, onEvent: emit });
    const reporting = options.toolCallReporting;
    const toolCallReporter =
      reporting === false
        ? undefined
        : createToolCallReporter({
            db,
            evidence: providerEvidence,
            clients,
            deployment,
            sender,
            publicUrl: () => publicUrl,
            ...(reporting?.minNewCalls === undefined ? {} : { minNewCalls: reporting.minNewCalls }),
            ...(reporting?.minIntervalMs === undefined ? {} : { minIntervalMs: reporting.minIntervalMs }),
            onEvent: emit,
          });
    const watcher = createDisputeWatcher({
      db,
      store: disputes,
      clients,
      deployment,
      windows,
      metrics,
      onEvent: emit,
    });
    const committee = createCommittee({
      clients,
      deployment,
      sender,
      store: disputes,
      resolver,
      runner,
      clock,
      metrics,
      sprt,
      ...(options.resolveGraceSeconds === undefined ? {} : { resolveGraceSeconds: options.resolveGraceSeconds }),
      onEvent: emit,
      onError,
    });
    const maxQueued = options.maxQueued ?? 10_000;
    stats = () => validatorStats({ audits, disputes, runner, canaries, providerEvidence, startedAt });
    const models = () => resolver.served().map((m) => ({ name: m.name, modelId: m.modelId }));
    /** The intake: checks a sample (shape, deployment, receipt, model, window) and queues it once. */
    async function admit(body: unknown): Promise<{ record: AuditRecord; created: boolean }> {
      const { sample, receiptHash } = preflightSample({ body, deployment });
      const existing = audits.get(receiptHash);
      if (existing) return { record: existing, created: false };
      if (audits.totals().byStatus.queued >= maxQueued) {
        throw new RequestError("The audit queue is full", {
          code: "rate_limited",
          hint: "Retry later",
          details: { retryAfterSeconds: 30 },
        });
      }
      await verifySampleOnChain({
        sample,
        deployment,
        resolver,
        channels,
        clock,
        auditWindow,
      });
      const queued = audits.enqueue({ id: receiptHash, sample, receivedAt: Date.now() });
      worker.notify();
      return queued;
    }
    const app = createValidatorApp({
      audits,
      disputes,
      providerEvidence,
      sprt,
      publicUrl: () => publicUrl,
      metrics,
      ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
      admit,
      health: () => ({
        agentId: onboarded.agentId.toString(),
        address: clients.account.address,
        models: models().map((m) => ({ name: m.name, modelId: m.modelId.toString() })),
        ...stats(),
      }),
      registration: () =>
        registrationFile({
          name: options.name ?? `verity-validator-${onboarded.agentId}`,
          publicUrl,
          agentId: onboarded.agentId,
          chainId: deployment.chainId,
          agentRegistry: c.AgentRegistry.address,
          models: models(),
        }),
    });
    handler = app.fetch;
    worker.start();
    stopWorker = () => worker.stop();
    if (options.canary && options.canary.intervalMs > 0) {
      canary = createCanary({
        config: options.canary,
        deployment,
        ...(options.rpcUrl === undefined ? {} : { rpcUrl: options.rpcUrl }),
        ...(options.provider === undefined ? {} : { provider: options.provider }),
        account: options.account,
        stateDir: join(options.dataDir, "canary"),
        store: canaries,
        admit,
        audited: () => resolver.served(),
        metrics,
        ...(options.pollMs === undefined ? {} : { indexerPollMs: options.pollMs }),
        onEvent: emit,
        onError,
      });
      canary.start();
    }
    const pollMs = options.pollMs ?? 2_000;
    chainLoop = (async () => {
      while (!stopped) {
        try {
          await watcher.syncOnce();
          await challenger.challengePending();
          await pooledChallenger.challengePooled();
          await draw.drawPending();
          await committee.tick();
          await refunds.releasePending();
          await toolCallReporter?.tick();
        } catch (error) {
          onError(error);
        }
        if (!stopped) await sleep(pollMs);
      }
    })();
    info = { url: publicUrl, agentId: onboarded.agentId, address: clients.account.address, models: models() };
    step(
      `validator agent ${onboarded.agentId} auditing ${info.models.map((m) => m.name).join(", ") || "no registered model"}`,
    );
    return info;
  }

  /**
   * Stops polling and canaries (a canary in flight is finished and queued), lets the running audit
   * finish, closes the HTTP server and the database (idempotent).
   */
  async function stop(): Promise<void> {
    stopped = true;
    await canary?.stop();
    wakeChain?.();
    await chainLoop;
    await stopWorker?.();
    const server = listening;
    listening = undefined;
    await server?.close();
    closeDb?.();
    closeDb = undefined;
  }

  return {
    start,
    stop,
    metrics,
    get url(): string | undefined {
      return info?.url;
    },
    get info(): ValidatorInfo | undefined {
      return info;
    },
    /** The canary sender, when `canary.intervalMs` > 0 (`runOnce()` sends one now). */
    get canary(): Canary | undefined {
      return canary;
    },
    /** Audits, challenges, votes and the compute spent on them (what `/health` shows). */
    stats: () => stats(),
  };
}

export type Validator = ReturnType<typeof createValidator>;
