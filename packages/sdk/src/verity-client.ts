/**
 * The Verity client: discovers offers, opens and funds channels with permits, pays providers with
 * vouchers whose amounts are durable before they leave the process, verifies every receipt, flags
 * providers that cheat, keeps transcripts for the audit window and samples them for validators.
 */
import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { type ChainClients, connectChain, createNativeAccount } from "@verity/chain";
import {
  type AuditPolicy,
  ConfigError,
  type Deployment,
  parseSignedMandate,
  RequestError,
  validateAuditPolicy,
} from "@verity/core";
import type { EIP1193Provider, LocalAccount } from "viem";
import { createClientAgentPayer } from "./agent-payer.ts";
import { type AuditQueue, type AuditSample, createAuditQueue } from "./audit-queue.ts";
import { createAuditSampler } from "./audit-sampler.ts";
import { type AgentCallResult, type CallAgentOptions, callAgent } from "./call-agent.ts";
import { type ChannelOps, createChannelOps, type OpenChannelArgs } from "./channel-ops.ts";
import { type ChannelStore, createChannelStore, type StoredChannel } from "./channel-store.ts";
import { createCompletionsApi } from "./chat.ts";
import { loadOrCreateSecret, openClientState } from "./client-state.ts";
import type { ContextClient } from "./context-client.ts";
import { createEndpointGuard } from "./endpoint-guard.ts";
import { type AgentListing, type AgentQuery, findAgents } from "./find-agents.ts";
import { createMandateLedger, type MandateLedger, type MandateSpend } from "./mandate-ledger.ts";
import {
  createGatewayDirectory,
  createIndexerDirectory,
  filterOffers,
  type Offer,
  type OfferDirectory,
  type OfferQuery,
} from "./offer-directory.ts";
import type { PriceLimit } from "./openai-types.ts";
import { createPaidRequests, type PaidRequests } from "./paid-request.ts";
import { createProviderFlags, type ProviderFlag, type ProviderFlags } from "./provider-flags.ts";
import { DEFAULT_RECEIPT_SKEW_SECONDS } from "./receipt-check.ts";
import { createReceiptSigners } from "./receipt-signers.ts";
import { type AutoOpen, createRouter, type Router } from "./router.ts";
import { createTranscriptStore, type Transcript, type TranscriptStore } from "./transcript-store.ts";

export type VerityClientOptions = {
  /** JSON-RPC endpoint of the chain (or pass `provider`). */
  rpcUrl?: string;
  /** An EIP-1193 provider instead of `rpcUrl`. */
  provider?: EIP1193Provider;
  deployment: Deployment;
  /** The payer: funds channels (permits) and sends their transactions. */
  account: LocalAccount;
  /** Hot key that signs vouchers; default: a key generated once and kept in `stateDir/authorizer.key`. */
  authorizer?: LocalAccount;
  /** Folder for durable state (SQLite, secrets). One per deployment and payer. */
  stateDir: string;
  /** Offer discovery: the client's own indexer (default) or a gateway's `GET /v1/providers`. */
  directory?: "indexer" | { gatewayUrl: string };
  audit?: {
    /** Probability that a verified response is sampled for audit (`pBase`, default 0.02). */
    p?: number;
    /**
     * Charge (token base units) from which every response is audited; below it the probability is
     * `min(1, p + charge / alwaysAuditAbove)`. Default: no value-dependent part (p for every charge).
     */
    alwaysAuditAbove?: bigint;
    /** Where sampled transcripts are POSTed; without it they stay queued as "pending". */
    validatorUrl?: string;
    /**
     * Milliseconds between retries of samples still pending (the validator was down or answered
     * 5xx/429) while the client runs (default 15,000); they are also retried on every start.
     */
    retryMs?: number;
    onSample?: (sample: AuditSample) => void;
    /** How long transcripts and receipts are kept (default 7 days). */
    windowMs?: number;
  };
  /** Open a channel of `amount` (at least the request's ceiling) when no channel has headroom. */
  autoOpen?: AutoOpen;
  /** Largest ceiling signed for one request, incl. a provider's 402 retry (default one whole token). */
  maxCeiling?: bigint;
  /**
   * Largest accepted distance between a receipt's timestamp and this machine's clock, in seconds
   * (default 120); a receipt outside it is refused `receipt_timestamp_invalid` and its provider flagged.
   */
  receiptSkewSeconds?: number;
  /**
   * Refuse answers whose receipt does not sign the seed key sent (`missing_seed`, provider flagged):
   * only seed-synced providers are used. Default false (older providers and upstream-backed ones,
   * which cannot seed their engine, are served and audited without seed-synced replay).
   */
  requireSeed?: boolean;
  /** Default price limit for routing. */
  maxPrice?: PriceLimit;
  /**
   * A spend mandate signed by the owner for this client's voucher key (`authorizer`): the JSON of
   * `{ chainId, mandate, signature }`. Every request is checked against it before a voucher is
   * signed; a refusal is a MandateError (`mandate_exceeded`, `mandate_not_allowed`,
   * `mandate_expired`) naming the limit, and nothing is paid.
   */
  mandate?: unknown;
  fetch?: typeof fetch;
  /**
   * The user's context client: a chat body's `verity_context: { owner, version?, select? }` is
   * resolved with it (fetched, verified, decrypted, the selected parts inserted as a system
   * message) before the request is routed and paid. Without it such a body is `context_unresolved`.
   */
  context?: ContextClient;
  /**
   * Refuse offer endpoints that are not public http(s) addresses (loopback, private, link-local,
   * reserved — also when a host name resolves to one) for health probes and paid requests, with
   * `endpoint_forbidden`. Off by default (a client on its own machine may use a local provider);
   * servers that fetch endpoints anyone can register (the gateway) turn it on.
   */
  publicEndpointsOnly?: boolean;
  onProviderFlagged?: (flag: ProviderFlag) => void;
  /** Background failures (indexer, validator posts). */
  onError?: (error: unknown) => void;
  indexerPollMs?: number;
  /** Age after which an orphaned reservation is dropped once a later receipt settled (default 60 s). */
  orphanGraceMs?: number;
};

/** A channel as the client knows it, with the headroom the next voucher can still use. */
export type ChannelInfo = StoredChannel & { headroom: bigint };

type Started = {
  clients: ChainClients;
  db: DatabaseSync;
  store: ChannelStore;
  mandate: MandateLedger | undefined;
  flags: ProviderFlags;
  transcripts: TranscriptStore;
  audits: AuditQueue;
  ops: ChannelOps;
  directory: OfferDirectory;
  router: Router;
  paid: PaidRequests;
  timer: NodeJS.Timeout;
  /** Retries pending audit samples (only with a validator URL). */
  retry: NodeJS.Timeout | undefined;
  /** Resolves once the running retry (if any) has finished. */
  retrying: () => Promise<unknown>;
};

const DAY_MS = 86_400_000;

export function createVerityClient(options: VerityClientOptions) {
  if (!options.rpcUrl && !options.provider) {
    throw new ConfigError("Pass rpcUrl or an EIP-1193 provider", { code: "invalid_parameter" });
  }
  const auditPolicy: AuditPolicy = {
    pBase: options.audit?.p ?? 0.02,
    ...(options.audit?.alwaysAuditAbove === undefined ? {} : { alwaysAuditAbove: options.audit.alwaysAuditAbove }),
  };
  validateAuditPolicy(auditPolicy); // up front
  const windowMs = options.audit?.windowMs ?? 7 * DAY_MS;
  const authorizer = options.authorizer ?? createNativeAccount(loadOrCreateSecret(options.stateDir, "authorizer.key"));
  const baseFetch = options.fetch ?? fetch;
  const guard = options.publicEndpointsOnly ? createEndpointGuard() : undefined;
  /** Fetch for offer endpoints learned from the chain (probes, paid requests). */
  const offerFetch = guard ? guard.wrap(baseFetch) : baseFetch;
  const maxCeiling = options.maxCeiling ?? 10n ** BigInt(options.deployment.token.decimals);
  const skew = options.receiptSkewSeconds;
  if (skew !== undefined && !(Number.isFinite(skew) && skew >= 0)) {
    throw new ConfigError(`receiptSkewSeconds ${String(skew)} is not a non-negative number`, {
      code: "invalid_parameter",
      hint: "Pass seconds, e.g. 120",
    });
  }
  const { deployment } = options;
  let starting: Promise<Started> | undefined;
  let started: Started | undefined;

  async function boot(): Promise<Started> {
    const clients = await connectChain({
      ...(options.rpcUrl === undefined ? {} : { rpcUrl: options.rpcUrl }),
      ...(options.provider === undefined ? {} : { provider: options.provider }),
      account: options.account,
      expectedChainId: deployment.chainId,
    });
    const db = openClientState({ stateDir: options.stateDir, deployment });
    try {
      return await bootWith(clients, db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  async function bootWith(clients: ChainClients, db: DatabaseSync): Promise<Started> {
    const store = createChannelStore(
      db,
      options.orphanGraceMs === undefined ? {} : { orphanGraceMs: options.orphanGraceMs },
    );
    store.orphanLive(); // a previous process's in-flight requests: outcome unknown, keep counting them
    const mandate =
      options.mandate === undefined
        ? undefined
        : createMandateLedger({
            db,
            signed: await parseSignedMandate({
              value: options.mandate,
              chainId: deployment.chainId,
              spender: authorizer.address,
            }),
          });
    // With a mandate, a reservation given back (nothing reached a provider) gives its spend back too.
    const payStore: ChannelStore = mandate
      ? {
          ...store,
          release(id: string) {
            store.release(id);
            mandate.release(id);
          },
        }
      : store;
    const flags = createProviderFlags(db, options.onProviderFlagged);
    const transcripts = createTranscriptStore(db);
    const paymentChannels = deployment.contracts.PaymentChannels.address;
    const audits = createAuditQueue({
      transcripts,
      sampler: createAuditSampler({
        chainId: deployment.chainId,
        paymentChannels,
        policy: auditPolicy,
        secretOf: ({ channelId, auditCommit }) => {
          if (!auditCommit) return store.auditSecret(channelId);
          const found = store.auditSecretFor(auditCommit);
          return found && found.channelId === channelId.toLowerCase() ? found.secret : undefined;
        },
        retire: (channelId, auditCommit) => void store.rotateAuditSecret(channelId, auditCommit),
      }),
      chainId: deployment.chainId,
      paymentChannels,
      fetch: baseFetch,
      ...(options.audit?.validatorUrl ? { validatorUrl: options.audit.validatorUrl } : {}),
      ...(options.audit?.onSample ? { onSample: options.audit.onSample } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
    });
    const ops = createChannelOps({
      clients,
      payer: options.account,
      deployment,
      store,
      authorizer: authorizer.address,
    });
    await ops.reconcileOpening();
    const directory =
      options.directory === undefined || options.directory === "indexer"
        ? createIndexerDirectory({
            deployment,
            publicClient: clients.publicClient,
            dbPath: join(options.stateDir, "index.sqlite"),
            fetch: offerFetch,
            ...(options.indexerPollMs === undefined ? {} : { pollMs: options.indexerPollMs }),
            ...(options.onError ? { onError: options.onError } : {}),
          })
        : createGatewayDirectory({ gatewayUrl: options.directory.gatewayUrl, fetch: baseFetch });
    await directory.start();
    const router = createRouter({
      directory,
      flags,
      store: payStore,
      ...(mandate ? { mandate } : {}),
      ops,
      authorizer: authorizer.address,
      maxCeiling,
      ...(options.maxPrice ? { maxPrice: options.maxPrice } : {}),
      ...(options.autoOpen ? { autoOpen: options.autoOpen } : {}),
    });
    const paid = createPaidRequests({
      chainId: deployment.chainId,
      paymentChannels,
      authorizer,
      store: payStore,
      ...(mandate ? { mandate } : {}),
      flags,
      signers: createReceiptSigners({
        publicClient: clients.publicClient,
        paymentChannels,
        fromBlock: BigInt(deployment.startBlock),
      }),
      audits,
      fetch: offerFetch,
      maxCeiling,
      receiptSkewSeconds: options.receiptSkewSeconds ?? DEFAULT_RECEIPT_SKEW_SECONDS,
      ...(options.requireSeed ? { requireSeed: true } : {}),
    });
    transcripts.cleanup(windowMs);
    const timer = setInterval(() => transcripts.cleanup(windowMs), Math.min(windowMs, 3_600_000));
    timer.unref();
    let retry: NodeJS.Timeout | undefined;
    let flushing: Promise<unknown> = Promise.resolve();
    if (options.audit?.validatorUrl) {
      const flush = () => {
        flushing = flushing.then(() => audits.flush()).catch((error) => options.onError?.(error));
      };
      flush();
      retry = setInterval(flush, options.audit.retryMs ?? 15_000);
      retry.unref();
    }
    return {
      clients,
      db,
      store,
      mandate,
      flags,
      transcripts,
      audits,
      ops,
      directory,
      router,
      paid,
      timer,
      retry,
      retrying: () => flushing,
    };
  }

  /** Starts the client on first use; concurrent callers share one start. */
  async function ready(): Promise<Started> {
    if (started) return started;
    starting ??= boot().then(
      (s) => {
        started = s;
        return s;
      },
      (error) => {
        starting = undefined;
        throw error;
      },
    );
    return starting;
  }

  const api = createCompletionsApi(ready, options.context ? { context: options.context } : {});

  function withHeadroom(c: StoredChannel): ChannelInfo {
    const used = c.charged + c.pending;
    const headroom = c.state !== "open" || c.highestSigned >= c.deposit || used >= c.deposit ? 0n : c.deposit - used;
    return { ...c, headroom };
  }

  return {
    /** The payer's address. */
    address: options.account.address,
    /** The voucher-signing key's address (every channel this client opens names it as payerAuthorizer). */
    authorizer: authorizer.address,
    chat: api.chat,
    completions: api.completions,

    /** Connects, opens the state dir, reconciles interrupted work, and starts offer discovery. */
    async start(): Promise<void> {
      await ready();
    },
    /** Stops discovery and timers, waits for audit posts, and closes the state database. */
    async stop(): Promise<void> {
      const s = started ?? (starting ? await starting.catch(() => undefined) : undefined);
      if (!s) return;
      clearInterval(s.timer);
      clearInterval(s.retry);
      await s.retrying();
      await s.audits.idle();
      await s.directory.stop();
      s.db.close();
      started = undefined;
      starting = undefined;
    },

    /** Live offers, cheapest first; `model` and `maxPrice` filter them. */
    async offers(query: OfferQuery = {}): Promise<Offer[]> {
      return filterOffers(await (await ready()).directory.list(), query);
    },

    /** Opens a channel with `openWithPermit` (one transaction, permit signed by the payer). */
    async openChannel(args: OpenChannelArgs): Promise<ChannelInfo & { txHash: `0x${string}` }> {
      const opened = await (await ready()).ops.openChannel(args);
      return { ...withHeadroom(opened), txHash: opened.txHash };
    },
    /** Adds `amount` with `topUpWithPermit`; cancels a pending withdrawal. */
    async topUp(args: { channelId: `0x${string}`; amount: bigint }) {
      return (await ready()).ops.topUp(args);
    },
    /** Starts the withdraw delay (`initiateWithdraw`); returns when the rest can be withdrawn. */
    async closeChannel(args: { channelId: `0x${string}` }) {
      return (await ready()).ops.closeChannel(args);
    },
    /** After the delay: returns the unclaimed rest to the payer (`finalizeWithdraw`). */
    async finalizeWithdraw(args: { channelId: `0x${string}` }) {
      return (await ready()).ops.finalizeWithdraw(args);
    },
    /** closeChannel, wait for chain time to pass the delay (polling), finalizeWithdraw. */
    async closeAndWithdraw(args: { channelId: `0x${string}`; pollMs?: number; signal?: AbortSignal }) {
      return (await ready()).ops.closeAndWithdraw(args);
    },
    /** The client's channels; `refresh` re-reads deposits and withdrawal state from the chain first. */
    async channels(args: { refresh?: boolean } = {}): Promise<ChannelInfo[]> {
      const s = await ready();
      if (args.refresh) for (const c of s.store.list()) if (c.state !== "closed") await s.ops.refresh(c.channelId);
      return s.store.list().map(withHeadroom);
    },

    /** The spend mandate in force and what was spent under it (rolling hour, day, total), if any. */
    async mandate(): Promise<{ hash: `0x${string}`; spent: MandateSpend } | undefined> {
      const m = (await ready()).mandate;
      return m && { hash: m.hash, spent: m.spent() };
    },
    /**
     * Hires an A2A agent (card, card URL): verifies its card against this deployment's registry and
     * pays the task from this client's channels, under its spend mandate (counterparty = agent id).
     */
    async callAgent(
      args: Omit<CallAgentOptions, "publicClient" | "agentRegistry" | "payer" | "beforePay"> & {
        /** With neither card nor cardUrl: hire the cheapest agent for `skill` with at least this reputation. */
        minReputation?: number;
      },
    ): Promise<AgentCallResult> {
      const s = await ready();
      let target = args;
      if (!args.card && !args.cardUrl) {
        const [best] = await this.findAgents({
          ...(args.skill === undefined ? {} : { skill: args.skill }),
          ...(args.maxPrice === undefined ? {} : { maxPrice: args.maxPrice }),
          ...(args.minReputation === undefined ? {} : { minReputation: args.minReputation }),
        });
        if (!best) {
          throw new RequestError(`No agent offers skill ${JSON.stringify(args.skill ?? "")} within the bounds`, {
            code: "agent_skill_unknown",
            hint: "List agents with findAgents (or `find_agents`), or raise maxPrice / lower minReputation",
          });
        }
        target = { ...args, cardUrl: best.cardUrl, skill: best.skill };
      }
      return callAgent({
        ...target,
        publicClient: s.clients.publicClient as never,
        agentRegistry: options.deployment.contracts.AgentRegistry.address,
        fetch: args.fetch ?? baseFetch,
        payer: createClientAgentPayer({
          store: s.store,
          ops: s.ops,
          authorizer,
          ...(s.mandate ? { mandate: s.mandate } : {}),
          ...(options.autoOpen ? { autoOpen: options.autoOpen } : {}),
        }),
      });
    },
    /** Agents with a verified card among the live offers' endpoints, cheapest first; filtered by skill, price, reputation. */
    async findAgents(query: AgentQuery = {}): Promise<AgentListing[]> {
      const s = await ready();
      return findAgents({
        offers: await s.directory.list(),
        publicClient: s.clients.publicClient as never,
        agentRegistry: options.deployment.contracts.AgentRegistry.address,
        reputationRegistry: options.deployment.contracts.ReputationRegistry.address,
        query,
        fetch: baseFetch,
      });
    },
    /** Providers refused after a bad receipt. */
    async flagged(): Promise<ProviderFlag[]> {
      return (await ready()).flags.list();
    },
    /** Lets a flagged provider back into routing. */
    async unflag(agentId: bigint): Promise<boolean> {
      return (await ready()).flags.unflag(agentId);
    },
    /** Stored transcripts with their receipts, newest first. */
    async transcripts(filter: { channelId?: string; limit?: number } = {}): Promise<Transcript[]> {
      return (await ready()).transcripts.list(filter);
    },
    audits: {
      /** Sampled transcripts and their status ("pending" until a validator accepted them, "rejected" on its 4xx). */
      async entries(status?: "pending" | "sent" | "rejected") {
        return (await ready()).audits.entries(status);
      },
      /** Sends pending samples to the validator now. */
      async flush() {
        return (await ready()).audits.flush();
      },
    },
    /** Drops transcripts older than the audit window; returns how many. */
    async cleanup(): Promise<number> {
      return (await ready()).transcripts.cleanup(windowMs);
    },
  };
}

export type VerityClient = ReturnType<typeof createVerityClient>;
