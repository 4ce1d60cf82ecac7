/**
 * The drill's fault scenarios, run in order against one cluster. Each injects one fault into a real
 * process (SIGKILL, SIGSTOP, a restart from its state directory) and returns what it checked: the
 * client got a complete answer or a clear error, it was charged at most once, nothing owed (vouchers,
 * receipts, audit samples) was lost, and balances reconcile with the chain.
 */

import {
  auditsAt,
  balanceAt,
  claimsReachReceipts,
  ledgerOf,
  owedTo,
  pendingAudits,
  pollUntil,
  providersCharged,
} from "./drill-checks.ts";
import { type ChatOutcome, chatThrough } from "./drill-client.ts";
import type { DrillCluster, DrillGateway } from "./drill-cluster.ts";
import type { DrillProcess } from "./drill-process.ts";

export type FaultResult = {
  fault: string;
  checked: string;
  ok: boolean;
  /** "passed", or what failed. */
  detail: string;
  /** What the drill saw happen (how the answer ended, what was claimed, …). */
  seen: string;
  ms: number;
};

export type Fault = {
  name: string;
  checked: string;
  /** Part of the `--quick` subset. */
  quick: boolean;
  /** Returns "" when every check passed, else what failed; `note` records what it saw. */
  run(cluster: DrillCluster, state: DrillState, note: (seen: string) => void): Promise<string>;
};

/** What one fault leaves for a later one (the provider killed mid-stream is restarted next). */
export type DrillState = { killedProvider?: DrillProcess; killedAgentId?: string };

const gatewayOf = (cluster: DrillCluster, i: number): DrillGateway => {
  const g = cluster.gateways[i];
  if (!g) throw new Error(`the cluster has no gateway ${i + 1}`);
  return g;
};

/** How an answer ended, for the table. */
function ended(outcome: ChatOutcome): string {
  return outcome.complete
    ? `complete from agent ${outcome.agentId}, charged ${outcome.charged}`
    : `error ${outcome.error} after ${outcome.text.length} chars, charged 0`;
}

/** The client's own view: a complete answer was charged what it says, anything else nothing. */
function chargedOnce(outcome: ChatOutcome, before: bigint, after: bigint): string {
  const spent = before - after;
  if (!outcome.complete && !outcome.error) return "the answer neither completed nor ended with an error";
  if (outcome.complete) {
    return spent === outcome.charged ? "" : `complete answer charged ${outcome.charged} but the balance fell ${spent}`;
  }
  return spent === 0n ? "" : `failed answer (${outcome.error}) but the balance fell ${spent}`;
}

/**
 * The balance reconciles: with the client's books (deposits − what complete answers were charged)
 * and, when the ledger is in the replica's SQLite, with the ledger (deposits − charges, no hold left).
 */
async function ledgerReconciles(cluster: DrillCluster, gateway: DrillGateway): Promise<string> {
  const balance = await balanceAt(gateway);
  const problems: string[] = [];
  const books = gateway.books.deposited - gateway.books.spent;
  if (balance !== books) problems.push(`balance ${balance} ≠ client's deposits − charges ${books}`);
  const ledger = ledgerOf(gateway, cluster.client);
  if (!ledger) return problems.join("; ");
  if (ledger.holds !== 0) problems.push(`${ledger.holds} hold(s) left`);
  if (ledger.deposits !== gateway.books.deposited)
    problems.push(`deposits ${ledger.deposits} ≠ on-chain ${gateway.books.deposited}`);
  const expected = ledger.deposits - ledger.charges + ledger.other;
  if (balance !== expected) problems.push(`balance ${balance} ≠ deposits − charges ${expected}`);
  return problems.join("; ");
}

/** The provider serving a request right now (its /health counts it in flight). */
async function busyProvider(cluster: DrillCluster): Promise<DrillProcess | undefined> {
  const all = [...cluster.providers, cluster.upstreamProvider];
  for (let i = 0; i < 50; i++) {
    for (const p of all) {
      const health = (await (await fetch(`${p.ready.url}/health`)).json().catch(() => ({}))) as { inFlight?: number };
      if ((health.inFlight ?? 0) > 0) return p;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
}

const providerKill: Fault = {
  name: "provider kill -9 mid-stream",
  checked: "complete answer or clear error; charged at most once; ledger reconciles",
  quick: true,
  async run(cluster, state, note) {
    const gateway = gatewayOf(cluster, 0);
    const problems: string[] = [];
    // The provider killed must be owed something: a stream served by one that holds no receipt yet
    // completes (and gives it one) and the next stream is tried — at most one per provider.
    for (let attempt = 0; attempt <= cluster.providers.length + 1 && !state.killedProvider; attempt++) {
      const before = await balanceAt(gateway);
      const outcome = await chatThrough({
        gateway,
        prompt: `tell a long story, take ${attempt}`,
        maxTokens: 300,
        onFirstToken: async () => {
          const busy = await busyProvider(cluster);
          if (!busy) return;
          const agentId = String(busy.ready.agentId);
          const owed = await owedTo(cluster, agentId);
          if (owed.owed === 0n) return;
          state.killedProvider = busy;
          state.killedAgentId = agentId;
          await busy.kill("SIGKILL");
          note(`killed agent ${agentId} (owed ${owed.owed}, ${owed.owed - owed.claimed} of it unclaimed)`);
        },
      });
      const after = await balanceAt(gateway);
      problems.push(chargedOnce(outcome, before, after));
      if (state.killedProvider) note(ended(outcome));
    }
    if (!state.killedProvider) return "no provider that was owed anything served a stream";
    problems.push(await ledgerReconciles(cluster, gateway));
    return problems.filter(Boolean).join("; ");
  },
};

const providerRestart: Fault = {
  name: "provider restart from its state dir",
  checked: "same agent; on-chain claimed of its channels reaches what its receipts owe",
  quick: true,
  async run(cluster, state, note) {
    const killed = state.killedProvider;
    if (!killed) return "no provider was killed before";
    const ready = await killed.restart();
    if (String(ready.agentId) !== state.killedAgentId) return `came back as agent ${ready.agentId}`;
    const claims = await claimsReachReceipts({
      rpcUrl: cluster.rpcUrl,
      deployment: cluster.deployment,
      gateways: cluster.gateways,
      agentId: state.killedAgentId,
    });
    note(
      `agent ${state.killedAgentId}: ${claims.channels} channel(s), claimed ${claims.claimed} of ${claims.owed} owed`,
    );
    if (claims.owed === 0n) return "nothing was owed to the restarted provider";
    return claims.ok ? "" : `claimed ${claims.claimed} of ${claims.owed} owed (${claims.signed} signed)`;
  },
};

const gatewayKill: Fault = {
  name: "gateway replica kill -9 mid-request",
  checked: "clear error or complete answer; charged at most once; hold released after restart",
  quick: true,
  async run(cluster, _state, note) {
    const gateway = gatewayOf(cluster, 1);
    const before = await balanceAt(gateway);
    const outcome = await chatThrough({
      gateway,
      prompt: "a long answer, please",
      maxTokens: 300,
      onFirstToken: () => gateway.process.kill("SIGKILL"),
    });
    await gateway.process.restart();
    const after = await balanceAt(gateway);
    note(`${ended(outcome)}; balance ${before} → ${after} after restart`);
    const problems = [chargedOnce(outcome, before, after), await ledgerReconciles(cluster, gateway)];
    // The restarted replica serves and charges again.
    const next = await chatThrough({ gateway, prompt: "still there?", maxTokens: 8 });
    const final = await balanceAt(gateway);
    if (!next.complete) problems.push(`the restarted replica failed a request (${next.error})`);
    else problems.push(chargedOnce(next, after, final));
    return problems.filter(Boolean).join("; ");
  },
};

const validatorKill: Fault = {
  name: "validator kill -9 mid-audit + restart",
  checked: "every accepted audit survives and finishes; samples sent while down are delivered",
  quick: false,
  async run(cluster, _state, note) {
    const url = String(cluster.validator.ready.url);
    const gateway = gatewayOf(cluster, 0);
    const known = new Set((await auditsAt(url)).map((a) => a.id));
    const answers = Promise.all(
      [1, 2, 3, 4].map((i) => chatThrough({ gateway, prompt: `audit me ${i}`, maxTokens: 24, stream: false })),
    );
    const seen = await pollUntil(
      () => auditsAt(url),
      // Killed as soon as a new sample waits in its queue (or, should it audit faster than it is
      // polled, once all four arrived).
      (list) =>
        list.some((a) => !known.has(a.id) && a.status === "queued") || list.filter((a) => !known.has(a.id)).length >= 4,
      60_000,
    );
    const accepted = seen.filter((a) => !known.has(a.id)).map((a) => a.id);
    if (accepted.length === 0) return "no audit reached the validator";
    await cluster.validator.kill("SIGKILL");
    const queuedAtKill = seen.filter((a) => !known.has(a.id) && a.status === "queued").length;
    const outcomes = await answers;
    // Answered while the validator is down: their samples wait in the gateway's queue.
    outcomes.push(await chatThrough({ gateway, prompt: "audit me while down", maxTokens: 24, stream: false }));
    const failed = outcomes.filter((o) => !o.complete).length;
    await cluster.validator.restart();
    const after = await pollUntil(
      () => auditsAt(url),
      (list) =>
        accepted.every((id) => list.some((a) => a.id === id && a.status !== "queued")) &&
        cluster.gateways.every((g) => pendingAudits(g) === 0),
      120_000,
    );
    const lost = accepted.filter((id) => !after.some((a) => a.id === id));
    const stuck = accepted.filter((id) => after.some((a) => a.id === id && a.status === "queued"));
    const pending = cluster.gateways.reduce((n, g) => n + pendingAudits(g), 0);
    note(
      `killed with ${accepted.length} new audit(s) accepted, ${queuedAtKill} still queued; ${after.length} audits after restart, ${pending} pending`,
    );
    return [
      failed > 0
        ? `${failed} answer(s) failed (${outcomes
            .filter((o) => !o.complete)
            .map((o) => o.error ?? "unknown")
            .join(", ")})`
        : "",
      lost.length > 0 ? `${lost.length} accepted audit(s) lost` : "",
      stuck.length > 0 ? `${stuck.length} audit(s) still queued` : "",
      pending > 0 ? `${pending} sample(s) never delivered` : "",
    ]
      .filter(Boolean)
      .join("; ");
  },
};

const hungUpstream: Fault = {
  name: "upstream hangs (SIGSTOP)",
  checked: "provider reports upstream_down; gateway routes around it; no charge at the hung provider",
  quick: false,
  async run(cluster, _state, note) {
    const hung = cluster.upstreamProvider;
    const agentId = String(hung.ready.agentId);
    const gateway = gatewayOf(cluster, 0);
    const health = async () =>
      (await (await fetch(`${hung.ready.url}/health`)).json()) as { requests: number; charged: string };
    const counted = await health();
    cluster.upstream.child.kill("SIGSTOP");
    try {
      await hung.waitFor((e) => e.event === "upstream_down", 30_000);
      const directory = await pollUntil(
        async () =>
          (
            (await (await fetch(`${gateway.url}/v1/providers`)).json()) as {
              data: { agentId: string; healthy: boolean }[];
            }
          ).data,
        (list) => list.some((o) => o.agentId === agentId && !o.healthy),
        30_000,
      );
      if (!directory.some((o) => o.agentId === agentId && !o.healthy)) return "the gateway still lists it healthy";
      const problems: string[] = [];
      const servedBy: string[] = [];
      for (let i = 0; i < 3; i++) {
        const before = await balanceAt(gateway);
        const outcome = await chatThrough({ gateway, prompt: `route around ${i}`, maxTokens: 12 });
        const after = await balanceAt(gateway);
        if (outcome.agentId) servedBy.push(outcome.agentId);
        if (!outcome.complete) problems.push(`request ${i} failed (${outcome.error})`);
        else if (outcome.agentId === agentId) problems.push(`request ${i} went to the hung provider`);
        const charged = chargedOnce(outcome, before, after);
        if (charged) problems.push(charged);
      }
      note(`agent ${agentId} down; 3 requests served by agent(s) ${[...new Set(servedBy)].join(", ")}`);
      const now = await health();
      if (now.requests !== counted.requests || now.charged !== counted.charged) {
        problems.push(`the hung provider charged ${BigInt(now.charged) - BigInt(counted.charged)}`);
      }
      return problems.join("; ");
    } finally {
      cluster.upstream.child.kill("SIGCONT");
      await hung.waitFor((e) => e.event === "upstream_up", 30_000).catch(() => {});
    }
  },
};

const reconciliation: Fault = {
  name: "final reconciliation",
  checked:
    "providers' charges all claimed on-chain; claims cover the gateways' receipts, within their vouchers; balance = deposits − charges",
  quick: true,
  async run(cluster, _state, note) {
    const providers = await providersCharged(cluster);
    const claims = await claimsReachReceipts({
      rpcUrl: cluster.rpcUrl,
      deployment: cluster.deployment,
      gateways: cluster.gateways,
    });
    note(
      `${claims.channels} channel(s): providers charged ${providers.charged}, claimed ${claims.claimed}, receipts ${claims.owed}, vouchers ${claims.signed}`,
    );
    const problems = [
      providers.unclaimed === 0n ? "" : `providers left ${providers.unclaimed} unclaimed`,
      providers.charged === claims.claimed ? "" : `providers charged ${providers.charged} ≠ claimed ${claims.claimed}`,
      claims.ok ? "" : `claimed ${claims.claimed} vs ${claims.owed} owed (${claims.signed} signed)`,
      claims.channels === 0 ? "no channel was paid on" : "",
    ];
    for (const g of cluster.gateways) problems.push(await ledgerReconciles(cluster, g));
    return problems.filter(Boolean).join("; ");
  },
};

/** Every fault, in the order they run (later ones use what earlier ones left). */
export const DRILL_FAULTS: readonly Fault[] = [
  providerKill,
  providerRestart,
  gatewayKill,
  validatorKill,
  hungUpstream,
  reconciliation,
];
