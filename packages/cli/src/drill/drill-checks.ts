/**
 * What the drill checks after each fault, read from the real places money and work are recorded:
 * a gateway's `GET /v1/balance` and its SQLite ledger (holds, charges, deposits), the receipts and
 * vouchers its payer state holds (`payer/client.sqlite`), the channels' `claimed` on-chain, and the
 * validator's audit queue (`GET /v1/audits`).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { connectChain } from "@verity/chain";
import { paymentChannelsAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import type { DrillCluster, DrillGateway } from "./drill-cluster.ts";

/** Polls `probe` every 200 ms until `done` accepts its value or `timeoutMs` passes; returns the last value. */
export async function pollUntil<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    value = await probe();
  }
  return value;
}

/** The key owner's prepaid balance as the gateway reports it. */
export async function balanceAt(gateway: DrillGateway): Promise<bigint> {
  const response = await fetch(`${gateway.url}/v1/balance`, {
    headers: { authorization: `Bearer ${gateway.apiKey}` },
  });
  if (!response.ok) throw new Error(`GET /v1/balance answered ${response.status}`);
  return BigInt(((await response.json()) as { balance: string }).balance);
}

function readOnly<T>(path: string, read: (db: DatabaseSync) => T): T | undefined {
  if (!existsSync(path)) return undefined;
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

export type LedgerView = { deposits: bigint; charges: bigint; other: bigint; requests: number; holds: number };

/** The gateway's prepaid ledger for `owner` (undefined when its state is not in SQLite, e.g. Postgres). */
export function ledgerOf(gateway: DrillGateway, owner: string): LedgerView | undefined {
  return readOnly(join(gateway.stateDir, "gateway.sqlite"), (db) => {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
    if (!tables.some((t) => t.name === "ledger") || !tables.some((t) => t.name === "holds")) return undefined;
    const view: LedgerView = { deposits: 0n, charges: 0n, other: 0n, requests: 0, holds: 0 };
    const rows = db.prepare("SELECT delta, reason FROM ledger WHERE owner = ?").all(owner.toLowerCase()) as {
      delta: string;
      reason: string;
    }[];
    for (const row of rows) {
      if (row.reason === "deposit") view.deposits += BigInt(row.delta);
      else if (row.reason === "request") {
        view.charges -= BigInt(row.delta);
        view.requests++;
      } else view.other += BigInt(row.delta);
    }
    view.holds = (
      db.prepare("SELECT COUNT(*) AS n FROM holds WHERE owner = ?").get(owner.toLowerCase()) as { n: number }
    ).n;
    return view;
  });
}

export type ChannelOwed = {
  channelId: `0x${string}`;
  agentId: string;
  /** The largest cumulative charge among the receipts the gateway holds on the channel. */
  owed: bigint;
  /** The largest voucher the gateway signed on it (what a provider can claim at most). */
  signed: bigint;
};

/** Per channel the gateway pays on: what its receipts owe and the vouchers it signed. */
export function gatewayChannels(gateway: DrillGateway): ChannelOwed[] {
  return (
    readOnly(join(gateway.stateDir, "payer", "client.sqlite"), (db) => {
      const channels = db.prepare("SELECT channel_id, agent_id, highest_signed FROM channels").all() as {
        channel_id: `0x${string}`;
        agent_id: string;
        highest_signed: string;
      }[];
      return channels.map((c) => {
        const receipts = db
          .prepare("SELECT cumulative_charged FROM transcripts WHERE channel_id = ?")
          .all(c.channel_id) as { cumulative_charged: string }[];
        const owed = receipts.reduce(
          (m, r) => (BigInt(r.cumulative_charged) > m ? BigInt(r.cumulative_charged) : m),
          0n,
        );
        return { channelId: c.channel_id, agentId: c.agent_id, owed, signed: BigInt(c.highest_signed) };
      });
    }) ?? []
  );
}

/** Audit samples the gateway's payer state still has to deliver to the validator. */
export function pendingAudits(gateway: DrillGateway): number {
  return (
    readOnly(join(gateway.stateDir, "payer", "client.sqlite"), (db) => {
      return (db.prepare("SELECT COUNT(*) AS n FROM audits WHERE status = 'pending'").get() as { n: number }).n;
    }) ?? 0
  );
}

/** A channel's `claimed` on-chain. */
export async function claimedOnChain(args: {
  rpcUrl: string;
  deployment: Deployment;
  channelId: `0x${string}`;
}): Promise<bigint> {
  const clients = await connectChain({ rpcUrl: args.rpcUrl, account: `0x${"11".repeat(32)}` });
  const [, claimed] = await clients.publicClient.readContract({
    address: args.deployment.contracts.PaymentChannels.address,
    abi: paymentChannelsAbi,
    functionName: "channelState",
    args: [args.channelId],
  });
  return claimed;
}

/** Waits until every channel of `agentId` (any, when omitted) is claimed up to what the receipts owe. */
export async function claimsReachReceipts(args: {
  rpcUrl: string;
  deployment: Deployment;
  gateways: readonly DrillGateway[];
  agentId?: string;
  timeoutMs?: number;
}): Promise<{ ok: boolean; owed: bigint; claimed: bigint; signed: bigint; channels: number }> {
  const read = async () => {
    let owed = 0n;
    let claimed = 0n;
    let signed = 0n;
    let short = 0;
    let over = 0;
    let channels = 0;
    for (const gateway of args.gateways) {
      for (const c of gatewayChannels(gateway)) {
        if (args.agentId !== undefined && c.agentId !== args.agentId) continue;
        const onChain = await claimedOnChain({
          rpcUrl: args.rpcUrl,
          deployment: args.deployment,
          channelId: c.channelId,
        });
        channels++;
        owed += c.owed;
        claimed += onChain;
        signed += c.signed;
        if (onChain < c.owed) short++;
        if (onChain > c.signed) over++;
      }
    }
    return { ok: short === 0 && over === 0, owed, claimed, signed, channels };
  };
  return pollUntil(read, (v) => v.ok, args.timeoutMs ?? 60_000);
}

export type AuditView = { id: string; status: string };

/** The validator's audit queue (newest first, up to 500). */
export async function auditsAt(validatorUrl: string): Promise<AuditView[]> {
  const response = await fetch(`${validatorUrl}/v1/audits?limit=500`);
  return ((await response.json()) as { data: AuditView[] }).data;
}

/** What the receipts the gateways hold owe agent `agentId`, and how much of it is claimed on-chain now. */
export async function owedTo(cluster: DrillCluster, agentId: string): Promise<{ owed: bigint; claimed: bigint }> {
  let owed = 0n;
  let claimed = 0n;
  for (const gateway of cluster.gateways) {
    for (const c of gatewayChannels(gateway)) {
      if (c.agentId !== agentId) continue;
      owed += c.owed;
      claimed += await claimedOnChain({
        rpcUrl: cluster.rpcUrl,
        deployment: cluster.deployment,
        channelId: c.channelId,
      });
    }
  }
  return { owed, claimed };
}

/** What every provider says it charged (its store's total), once each has claimed all of it. */
export async function providersCharged(cluster: DrillCluster): Promise<{ charged: bigint; unclaimed: bigint }> {
  const read = async () => {
    let charged = 0n;
    let unclaimed = 0n;
    for (const p of [...cluster.providers, cluster.upstreamProvider]) {
      const health = (await (await fetch(`${p.ready.url}/health`)).json()) as { charged: string; claimed: string };
      charged += BigInt(health.charged);
      unclaimed += BigInt(health.charged) - BigInt(health.claimed);
    }
    return { charged, unclaimed };
  };
  return pollUntil(read, (v) => v.unclaimed === 0n, 60_000);
}
