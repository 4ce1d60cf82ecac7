import type { DatabaseSync } from "node:sqlite";
import type { PrepaidLedger } from "./prepaid-ledger.ts";
import type { Customer, RefundAttribution } from "./refund-attribution.ts";
import type { GatewayStore } from "./store/index.ts";

/**
 * What the gateway did with the refund of one guilty dispute on a channel it pays:
 * - `credited`: added to the prepaid balance of the API key owner who paid for the request;
 * - `owed`: the request was paid by x402 — the amount is owed to that payer address;
 * - `retained`: no customer paid for the request (unknown request, or its payment never settled).
 */
export type RefundCredit = {
  disputeId: string;
  requestId: string;
  channelId: string;
  agentId: string;
  status: "credited" | "owed" | "retained";
  customer: Customer | null;
  /** Credited to (or owed to) the customer: what that customer was billed for the request. */
  amount: bigint;
  /** What the Disputes contract paid the gateway for this dispute. */
  refunded: bigint;
  /** The `DisputeResolved` transaction. */
  txHash: string;
  createdAt: number;
};

type Row = {
  dispute_id: string;
  request_id: string;
  channel_id: string;
  agent_id: string;
  status: RefundCredit["status"];
  customer_kind: string | null;
  customer: string | null;
  amount: string;
  refunded: string;
  tx_hash: string;
  created_at: string;
};

function toCredit(row: Row): RefundCredit {
  return {
    disputeId: row.dispute_id,
    requestId: row.request_id,
    channelId: row.channel_id,
    agentId: row.agent_id,
    status: row.status,
    customer:
      row.customer_kind === "key"
        ? { kind: "key", owner: row.customer as string }
        : row.customer_kind === "x402"
          ? { kind: "x402", payer: row.customer as string }
          : null,
    amount: BigInt(row.amount),
    refunded: BigInt(row.refunded),
    txHash: row.tx_hash,
    createdAt: Number(row.created_at),
  };
}

/** JSON view of a credit (amounts as decimal strings). */
export function refundCreditJson(c: RefundCredit) {
  return { ...c, amount: c.amount.toString(), refunded: c.refunded.toString() };
}

const lower = (v: unknown) => String(v ?? "").toLowerCase();

/**
 * Passes dispute refunds on to the gateway's customers. The gateway's indexer keeps every
 * `Disputes` event; on each `DisputeResolved` with a guilty verdict for a channel the gateway pays,
 * the challenged receipt's request id (from `ChallengeOpened`) is looked up in the request
 * attribution and the customer who paid for it gets what it was billed (the gateway's fee
 * included): a prepaid balance is credited, an x402 payer is recorded as owed. The record in
 * `refund_credits` is keyed by dispute id and written in the same store transaction as the balance
 * change (`INSERT … ON CONFLICT DO NOTHING`), so replays, restarts and several replicas scanning
 * at once credit each dispute exactly once.
 */
export function createRefundCredits(options: {
  /** The gateway's store (ledger and attribution), shared by replicas. */
  store: GatewayStore;
  /** The indexer's database (`events` and `channels`), this replica's own read model of the chain. */
  index: DatabaseSync;
  ledger: PrepaidLedger;
  attribution: RefundAttribution;
  /** The accounts that pay the gateway's channels (the gateway's, and this replica's payer key). */
  payers: readonly `0x${string}`[];
  onRefund?: (credit: RefundCredit) => void;
}) {
  const { store, index } = options;
  const payers = new Set(options.payers.map((p) => p.toLowerCase()));

  function resolvedGuilty() {
    const rows = index
      .prepare(
        `SELECT tx_hash, args FROM events WHERE contract = 'Disputes' AND name = 'DisputeResolved'
         ORDER BY block, log_index`,
      )
      .all() as { tx_hash: string; args: string }[];
    return rows
      .map((r) => ({ txHash: r.tx_hash, args: JSON.parse(r.args) as Record<string, unknown> }))
      .filter((r) => r.args.guilty === true);
  }

  function opened(disputeId: string) {
    const row = index
      .prepare(
        `SELECT args FROM events WHERE contract = 'Disputes' AND name = 'ChallengeOpened'
         AND json_extract(args, '$.disputeId') = ?`,
      )
      .get(disputeId) as { args: string } | undefined;
    return row ? (JSON.parse(row.args) as Record<string, unknown>) : undefined;
  }

  function paysChannel(channelId: string): boolean {
    const row = index.prepare("SELECT payer FROM channels WHERE lower(channel_id) = ?").get(channelId) as
      | { payer: string }
      | undefined;
    return payers.has(lower(row?.payer));
  }

  async function creditOne(disputeId: string, txHash: string, refunded: bigint): Promise<RefundCredit | undefined> {
    const challenge = opened(disputeId);
    if (!challenge) return undefined;
    const channelId = lower(challenge.channelId);
    if (!paysChannel(channelId)) return undefined;
    const requestId = lower(challenge.requestId);
    const paid = await options.attribution.get(requestId);
    const billed = paid?.billed ?? null;
    const customer = billed === null ? null : (paid?.customer ?? null);
    const credit: RefundCredit = {
      disputeId,
      requestId,
      channelId,
      agentId: String(challenge.agentId),
      status: customer === null ? "retained" : customer.kind === "key" ? "credited" : "owed",
      customer,
      amount: customer === null || billed === null ? 0n : billed,
      refunded,
      txHash,
      createdAt: Date.now(),
    };
    const inserted = await store.transaction(async (tx) => {
      const result = await tx.query(
        `INSERT INTO refund_credits (dispute_id, request_id, channel_id, agent_id, status, customer_kind,
          customer, amount, refunded, tx_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (dispute_id) DO NOTHING RETURNING dispute_id`,
        [
          disputeId,
          requestId,
          channelId,
          credit.agentId,
          credit.status,
          customer?.kind ?? null,
          customer ? (customer.kind === "key" ? customer.owner : customer.payer) : null,
          credit.amount.toString(),
          refunded.toString(),
          txHash,
          credit.createdAt,
        ],
      );
      if (result.length === 0) return false;
      if (customer?.kind === "key" && credit.amount > 0n) {
        await options.ledger.credit({
          owner: customer.owner,
          amount: credit.amount,
          ref: disputeId,
          reason: "refund",
          tx,
        });
      }
      return true;
    });
    return inserted ? credit : undefined;
  }

  /** Credits every guilty verdict not credited yet; returns the new credits. Safe to call any time. */
  async function scan(): Promise<RefundCredit[]> {
    const credits: RefundCredit[] = [];
    for (const { txHash, args } of resolvedGuilty()) {
      const disputeId = String(args.disputeId);
      const done = await store.query("SELECT 1 FROM refund_credits WHERE dispute_id = $1", [disputeId]);
      if (done.length > 0) continue;
      const credit = await creditOne(disputeId, txHash, BigInt(String(args.refunded ?? 0)));
      if (credit) credits.push(credit);
    }
    for (const credit of credits) options.onRefund?.(credit);
    return credits;
  }

  return {
    scan,
    /** Refunds passed on to one customer (an API key owner or an x402 payer address), newest first. */
    async list(args: { customer?: string; limit?: number } = {}): Promise<RefundCredit[]> {
      const rows = await store.query<Row>(
        `SELECT * FROM refund_credits WHERE ($1::text IS NULL OR customer = $1) ORDER BY created_at DESC, dispute_id DESC
         LIMIT $2`,
        [args.customer?.toLowerCase() ?? null, args.limit ?? 100],
      );
      return rows.map(toCredit);
    },
  };
}

export type RefundCredits = ReturnType<typeof createRefundCredits>;
