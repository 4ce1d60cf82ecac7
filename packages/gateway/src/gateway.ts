import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connectChain, createIndexer, ensureAgent, type Listening, listen, verifyDeployment } from "@verity/chain";
import { ConfigError, type Deployment, StorageError } from "@verity/core";
import { createVerityClient, type VerityClient } from "@verity/sdk";
import type { Hono } from "hono";
import type { EIP1193Provider, LocalAccount, PublicClient } from "viem";
import { createApiKeys } from "./api-keys.ts";
import { createGatewayApp } from "./app.ts";
import { mountContextRoutes } from "./context-routes.ts";
import { createContextStore } from "./context-store.ts";
import { createDepositWatcher } from "./deposit-watcher.ts";
import { createForbiddenOfferLog, gatewayEndpointGuard } from "./endpoint-guard.ts";
import { mountExplorerApi } from "./explorer-api.ts";
import { type AgentCard, createGatewayCardSource } from "./gateway-agent-card.ts";
import { createGatewayMetrics } from "./gateway-metrics.ts";
import { createHealthProber } from "./health-prober.ts";
import { createOfferDirectory } from "./offer-directory.ts";
import { createPrepaidLedger, DEFAULT_HOLD_TIMEOUT_MS } from "./prepaid-ledger.ts";
import { createRefundAttribution } from "./refund-attribution.ts";
import { createRefundCredits, type RefundCredit } from "./refund-credits.ts";
import { mountRefundRoutes } from "./refund-routes.ts";
import { defaultRoutingPolicy, type RoutingPolicy } from "./routing-policy.ts";
import { migrate, openGatewayStore, redactUrl } from "./store/index.ts";
import { createToolCallScores } from "./tool-call-scores.ts";
import { createTrafficSeries } from "./traffic-series.ts";
import { createX402Payments, type X402Payments } from "./x402/index.ts";

export type { RefundCredit } from "./refund-credits.ts";

export type GatewayOptions = {
  deployment: Deployment;
  rpcUrl?: string;
  provider?: EIP1193Provider;
  /** The gateway's account: pays providers from its channels, receives deposits and x402 payments. */
  account: LocalAccount;
  /**
   * The account that opens channels and signs vouchers to providers (default: `account`). Replicas
   * sharing one database each need their own: one payer key in two processes would race for its
   * transaction and permit nonces. Its channels' refunds are passed on like the gateway's.
   */
  payerAccount?: LocalAccount;
  stateDir: string;
  /**
   * Where the gateway's shared state lives (keys, balances, holds, ledger, deposits, refunds, x402):
   * a `postgres://` URL that several replicas share, or — left out — an embedded PGlite database in
   * `<stateDir>/gateway-pglite` (one process).
   */
  database?: string;
  /** This process's id on the holds it makes (default: a random id per start). */
  replicaId?: string;
  /** A hold older than this is taken for abandoned by a crashed replica and released at start (default 15 min). */
  holdTimeoutMs?: number;
  host?: string;
  port?: number;
  publicUrl?: string;
  /** Fee on top of the provider's charge, in basis points (default 500 = 5 %). */
  feeBps?: number;
  /** Accept keyless x402 payments (default true). */
  x402?: boolean;
  /**
   * Also accept x402 `batch-settlement` (default: when its contract is at the canonical address on
   * this chain), with the claim and sweep intervals.
   */
  batchSettlement?: boolean | { claimIntervalSeconds?: number; settleIntervalSeconds?: number };
  defaultMaxTokens?: number;
  /** Escrow of each channel the gateway opens to a provider (default 10 TUSD). */
  channelDeposit?: bigint;
  probeIntervalMs?: number;
  indexerPollMs?: number;
  /**
   * Blocks a deposit must be buried under before it credits a prepaid balance: default 2, except on
   * a local development chain (chain id 31337, which mines only on demand), where it is 0. A deposit
   * whose block is reorganized away is taken back.
   */
  depositConfirmations?: number;
  policy?: RoutingPolicy;
  /**
   * Probe and pay offers whose endpoint is (or resolves to) a loopback, private, link-local or
   * reserved address. Off by default: such an offer is unhealthy (`endpoint_forbidden`) and never
   * contacted. Networks that run on private addresses (the devnet on 127.0.0.1) turn it on.
   */
  allowPrivateEndpoints?: boolean;
  /**
   * Audits of the gateway's own paid traffic, drawn with the SDK's commit–reveal sampler: the share
   * `p` of verified responses sampled (default 0, no audits), `alwaysAuditAbove` (a charge in token
   * base units from which every response is audited; below it p rises to `p + charge / alwaysAuditAbove`)
   * and the validator intake URL samples are posted to (`…/v1/audits`).
   */
  audit?: { p?: number; alwaysAuditAbove?: bigint; validatorUrl?: string };
  /**
   * The explorer page: `distDir` is its built `dist` folder (`ensureExplorerBuilt()` from
   * `@verity/explorer`), served at `/` and `/explorer/`; `blockExplorerUrl` makes the page link
   * transactions to `<url>/tx/<hash>`. Off by default (the data API under `/api` is always there).
   */
  explorer?: { distDir: string; blockExplorerUrl?: string } | false;
  /** Largest encrypted user-context blob `PUT /v1/context/:owner` stores (default 256 KiB). */
  contextMaxBytes?: number;
  /** Extra routes (the explorer's data API). */
  extend?: (app: Hono, ctx: { indexer: ReturnType<typeof createIndexer> }) => void;
  onError?: (error: unknown) => void;
  /**
   * Give the gateway an ERC-8004 agent identity and publish its signed Agent Card at
   * `/.well-known/agent-card.json`: `agentId` (or the id an earlier start kept in `stateDir`) is
   * reused when the gateway's account owns it, else a new agent is registered in AgentRegistry by
   * that account at start (its URI the card's URL).
   * Off by default: no identity, no card.
   */
  agent?: { agentId?: bigint };
  /**
   * A guilty verdict's refund was passed on: credited to an API key's prepaid balance, owed to an
   * x402 payer, or retained (no customer paid for the request). Default: one log line.
   */
  onRefund?: (credit: RefundCredit) => void;
};

/**
 * The gateway: one OpenAI-compatible endpoint over every provider in the directory. It routes by
 * price, latency and reliability, fails over mid-request, pays providers from its own channels with
 * the SDK, and charges its users once — from a prepaid balance (API key) or per request by x402.
 */
export function createGateway(options: GatewayOptions) {
  const stops: (() => Promise<void> | void)[] = [];
  let listening: Listening | undefined;
  let client: VerityClient | undefined;
  let x402Payments: X402Payments | undefined;
  /** The explorer API's live streams end before the listener closes, so stop() never waits on them. */
  let explorerApi: { close(): void } | undefined;
  const metrics = createGatewayMetrics();
  /** The signed Agent Card, once the gateway's agent identity is on chain (`options.agent`). */
  let agentCard: (() => Promise<AgentCard>) | undefined;

  async function start(): Promise<{ url: string; address: `0x${string}`; agentId?: bigint }> {
    const { deployment } = options;
    // The shared store first: an unreachable `--database` or a schema newer than this build stops
    // the start before anything (the state folder, the indexer's files) is written.
    const store = await openGatewayStore({ database: options.database, stateDir: options.stateDir });
    stops.push(() => store.close());
    await migrate({ store }).catch((error: unknown) => {
      throw namingDatabase(error, options.database);
    });
    mkdirSync(options.stateDir, { recursive: true });
    const clients = await connectChain({
      ...(options.rpcUrl === undefined ? {} : { rpcUrl: options.rpcUrl }),
      ...(options.provider === undefined ? {} : { provider: options.provider }),
      account: options.account,
      expectedChainId: deployment.chainId,
    });
    await verifyDeployment({ publicClient: clients.publicClient, deployment });
    const depositsContract = deployment.contracts.GatewayDeposits;
    if (!depositsContract) {
      throw new ConfigError("The deployment has no GatewayDeposits contract, so no deposit could fund an API key", {
        code: "deployment_outdated",
        hint: "Redeploy with `verity deploy` (or the devnet) to get a deployment file with GatewayDeposits",
      });
    }
    const indexer = createIndexer({
      deployment,
      publicClient: clients.publicClient,
      db: join(options.stateDir, "index.sqlite"),
      pollMs: options.indexerPollMs ?? 500,
      ...(options.onError ? { onError: options.onError } : {}),
    });
    await indexer.syncOnce();
    indexer.start();
    stops.push(() => indexer.stop());
    const guard = gatewayEndpointGuard(options);
    if (guard) stops.push(() => guard.close());
    const forbiddenLog = createForbiddenOfferLog({
      offersAt: (url) => directory.offers().filter((o) => o.url === url),
    });
    const prober = createHealthProber({
      intervalMs: options.probeIntervalMs ?? 5_000,
      ...(guard ? { guard, onForbidden: forbiddenLog.refused, onAllowed: forbiddenLog.allowed } : {}),
    });
    const toolCallScores = createToolCallScores({ indexer });
    stops.push(() => toolCallScores.close());
    const directory = createOfferDirectory({
      indexer,
      prober,
      toolCallScore: (agentId) => toolCallScores.score(agentId),
    });
    await prober.probeAll(directory.endpoints());
    prober.start(() => directory.endpoints());
    stops.push(
      () => prober.stop(),
      () => directory.close(),
    );

    const attribution = createRefundAttribution({ store });
    let publicUrl = options.publicUrl ?? "";
    const domains = () => (publicUrl ? [new URL(publicUrl).host] : []);
    const keys = createApiKeys({
      store,
      chainId: deployment.chainId,
      gateway: options.account.address,
      publicClient: clients.publicClient as PublicClient,
      domains,
    });
    const ledger = createPrepaidLedger({
      store,
      ...(options.replicaId ? { replicaId: options.replicaId } : {}),
      ...(options.holdTimeoutMs !== undefined ? { holdTimeoutMs: options.holdTimeoutMs } : {}),
      onHold: async (hold, tx, locked) => {
        await keys.ledgerHooks.onHold(hold, tx, locked);
        await attribution.ledgerHooks.onHold?.(hold);
      },
      onSettled: async (settled, tx) => {
        await keys.ledgerHooks.onSettled(settled, tx);
        await attribution.ledgerHooks.onSettled?.(settled, tx);
      },
    });
    // Holds of requests that can no longer complete: every hold on the embedded database (only this
    // process opens it); on a shared one only this replica id's and those past the hold timeout.
    await ledger.releaseAbandonedHolds({ all: store.kind === "pglite" });
    // A replica that crashed and never came back: its holds go back once they pass the timeout.
    const sweep = setInterval(
      () => void ledger.releaseAbandonedHolds({ expiredOnly: true }).catch((e: unknown) => options.onError?.(e)),
      Math.max(1_000, Math.floor((options.holdTimeoutMs ?? DEFAULT_HOLD_TIMEOUT_MS) / 4)),
    );
    sweep.unref();
    stops.push(() => clearInterval(sweep));
    const payerAccount = options.payerAccount ?? options.account;
    const refunds = createRefundCredits({
      store,
      index: indexer.db,
      ledger,
      attribution,
      payers: [options.account.address, payerAccount.address],
      onRefund:
        options.onRefund ??
        ((r) =>
          console.error(
            `verity-gateway: dispute ${r.disputeId} refund ${r.status} ${r.amount} to ${
              r.customer ? (r.customer.kind === "key" ? r.customer.owner : r.customer.payer) : "gateway"
            } (request ${r.requestId}, refunded ${r.refunded})`,
          )),
    });
    const scanRefunds = () => refunds.scan().catch((error: unknown) => options.onError?.(error));
    await scanRefunds();
    const unsubscribe = indexer.subscribe((events) => {
      if (events.some((e) => e.contract === "Disputes" && e.name === "DisputeResolved")) scanRefunds();
    });
    stops.push(() => {
      unsubscribe();
    });
    const deposits = createDepositWatcher({
      store,
      ledger,
      publicClient: clients.publicClient as PublicClient,
      depositsContract: depositsContract.address,
      token: deployment.token.address,
      gateway: options.account.address,
      startBlock: BigInt(depositsContract.block),
      confirmations: options.depositConfirmations ?? (deployment.chainId === 31337 ? 0 : 2),
      ...(options.onError ? { onError: options.onError } : {}),
      pollMs: options.indexerPollMs ?? 1_000,
      onReverted: (d) =>
        console.error(
          `verity-gateway: deposit ${d.ref} of ${d.amount} to ${d.account} left the chain (reorg); its credit was taken back`,
        ),
    });
    await deposits.scan();
    deposits.start();
    stops.push(() => deposits.stop());

    client = createVerityClient({
      ...(options.rpcUrl === undefined ? {} : { rpcUrl: options.rpcUrl }),
      ...(options.provider === undefined ? {} : { provider: options.provider }),
      deployment,
      account: payerAccount,
      stateDir: join(options.stateDir, "payer"),
      autoOpen: { amount: options.channelDeposit ?? 10_000_000n },
      publicEndpointsOnly: !options.allowPrivateEndpoints,
      indexerPollMs: options.indexerPollMs ?? 500,
      audit: {
        p: options.audit?.p ?? 0,
        ...(options.audit?.alwaysAuditAbove === undefined ? {} : { alwaysAuditAbove: options.audit.alwaysAuditAbove }),
        ...(options.audit?.validatorUrl ? { validatorUrl: options.audit.validatorUrl } : {}),
      },
      ...(options.onError ? { onError: options.onError } : {}),
    });
    await client.start();
    const started = client;
    stops.push(() => started.stop());
    const payer = attribution.wrapClient(started);

    const x402 =
      options.x402 === false
        ? undefined
        : attribution.wrapX402(
            createX402Payments({
              chainId: deployment.chainId,
              token: deployment.token,
              payTo: options.account.address,
              facilitator: {
                publicClient: clients.publicClient as PublicClient,
                walletClient: clients.walletClient as never,
              },
              store,
              ...(options.batchSettlement === undefined ? {} : { batchSettlement: options.batchSettlement }),
            }),
          );
    if (x402) stops.push(() => x402.stop());
    x402Payments = x402;
    const traffic = createTrafficSeries();
    const explorer = options.explorer || undefined;
    const app = createGatewayApp({
      client: payer,
      directory,
      prober,
      policy: options.policy ?? defaultRoutingPolicy,
      ledger,
      keys,
      x402,
      feeBps: options.feeBps ?? 500,
      defaultMaxTokens: options.defaultMaxTokens ?? 256,
      metrics,
      publicUrl: () => publicUrl,
      address: options.account.address,
      depositsContract: depositsContract.address,
      chainId: deployment.chainId,
      domains,
      token: deployment.token,
      traffic,
      agentCard: () => agentCard?.(),
      ...(explorer ? { explorer: { distDir: explorer.distDir } } : {}),
      extend: (hono) => {
        const api = mountExplorerApi(hono, {
          indexer,
          directory,
          traffic,
          chainId: deployment.chainId,
          token: deployment.token,
          gateway: { address: options.account.address, feeBps: options.feeBps ?? 500 },
          contracts: Object.fromEntries(
            Object.entries(deployment.contracts).flatMap(([name, c]) => (c ? [[name, c.address]] : [])),
          ),
          ...(explorer?.blockExplorerUrl ? { blockExplorerUrl: explorer.blockExplorerUrl } : {}),
        });
        explorerApi = api;
        mountRefundRoutes(hono, { ledger, keys, credits: refunds });
        mountContextRoutes(hono, {
          contexts: createContextStore({
            store,
            ...(options.contextMaxBytes === undefined ? {} : { maxBytes: options.contextMaxBytes }),
          }),
        });
        options.extend?.(hono, { indexer });
      },
    });
    listening = await listen({
      fetch: (request) => attribution.run(() => app.fetch(request)),
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.port === undefined ? {} : { port: options.port }),
    });
    publicUrl ||= listening.url;
    if (!options.agent) return { url: publicUrl, address: options.account.address };
    // The id registered by an earlier start is kept in the state folder and reused (while owned).
    const idFile = join(options.stateDir, "gateway-agent-id");
    const saved = existsSync(idFile) ? readFileSync(idFile, "utf8").trim() : "";
    const known = options.agent.agentId ?? (/^\d+$/.test(saved) ? BigInt(saved) : undefined);
    const agentId = await ensureAgent({
      clients,
      deployment,
      ...(known === undefined ? {} : { agentId: known }),
      agentURI: `${publicUrl}/.well-known/agent-card.json`,
      role: "gateway",
      send: (what, write) =>
        clients.transact(what, () =>
          clients.walletClient.writeContract({ ...write, chain: clients.chain, account: clients.account } as never),
        ),
    });
    mkdirSync(options.stateDir, { recursive: true });
    writeFileSync(idFile, `${agentId}\n`);
    agentCard = createGatewayCardSource({
      account: options.account,
      input: () => ({
        baseUrl: publicUrl,
        chainId: deployment.chainId,
        agentId,
        agentRegistry: deployment.contracts.AgentRegistry.address,
        paymentChannels: deployment.contracts.PaymentChannels.address,
        token: deployment.token.address,
        address: options.account.address,
        depositsContract: depositsContract.address,
        feeBps: options.feeBps ?? 500,
        x402Schemes: x402 ? ["exact", ...(x402.batchClaims ? ["batch-settlement"] : [])] : [],
        offers: directory.offers(),
      }),
    });
    return { url: publicUrl, address: options.account.address, agentId };
  }

  return {
    start,
    metrics,
    get client(): VerityClient | undefined {
      return client;
    },
    /** The x402 door once started (undefined when x402 is off): its batch claims run from here. */
    get x402(): X402Payments | undefined {
      return x402Payments;
    },
    async stop(): Promise<void> {
      explorerApi?.close();
      await listening?.close();
      while (stops.length > 0) await stops.pop()?.();
    },
  };
}

export type Gateway = ReturnType<typeof createGateway>;

/** A schema-too-new refusal that names where the database came from (`--database`, or the embedded one). */
function namingDatabase(error: unknown, database: string | undefined): unknown {
  if (!(error instanceof StorageError) || error.code !== "database_schema_newer") return error;
  const where = database ? `--database ${redactUrl(database)}` : "the embedded database in the state folder";
  return new StorageError(
    `${where} is at schema version ${error.details.database}, newer than this build's ${error.details.known}: this replica is older than the database`,
    {
      code: "database_schema_newer",
      ...(error.hint ? { hint: error.hint } : {}),
      details: { ...error.details, flag: "--database" },
      cause: error,
    },
  );
}
