import type { DatabaseSync } from "node:sqlite";
import { inTransaction } from "@verity/chain";
import type { PrepaidLedger } from "./prepaid-ledger.ts";
import type { Customer, RefundAttribution } from "./refund-attribution.ts";

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
  created_at: number;
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
    createdAt: row.created_at,
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
 * `refund_credits` is keyed by dispute id and written in the same SQLite transaction as the balance
 * change, so replays and restarts credit each dispute exactly once.
 */
export function createRefundCredits(options: {
  /** The gateway's database (ledger and attribution). */
  db: DatabaseSync;
  /** The indexer's database (`events` and `channels`). */
  index: DatabaseSync;
  ledger: PrepaidLedger;
  attribution: RefundAttribution;
  /** The gateway's account: the payer of its channels. */
  gateway: `0x${string}`;
  onRefund?: (credit: RefundCredit) => void;
}) {
  const { db, index } = options;
  db.exec(`
    CREATE TABLE IF NOT EXISTS refund_credits (
      dispute_id TEXT PRIMARY KEY, request_id TEXT NOT NULL, channel_id TEXT NOT NULL, agent_id TEXT NOT NULL,
      status TEXT NOT NULL, customer_kind TEXT, customer TEXT, amount TEXT NOT NULL, refunded TEXT NOT NULL,
      tx_hash TEXT NOT NULL, created_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS refund_credits_customer ON refund_credits (customer);
  `);
  const gateway = options.gateway.toLowerCase();

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
    return lower(row?.payer) === gateway;
  }

  function creditOne(disputeId: string, txHash: string, refunded: bigint): RefundCredit | undefined {
    const challenge = opened(disputeId);
    if (!challenge) return undefined;
    const channelId = lower(challenge.channelId);
    if (!paysChannel(channelId)) return undefined;
    const requestId = lower(challenge.requestId);
    const paid = options.attribution.get(requestId);
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
    const inserted = inTransaction(db, () => {
      const result = db
        .prepare(
          `INSERT OR IGNORE INTO refund_credits (dispute_id, request_id, channel_id, agent_id, status, customer_kind,
            customer, amount, refunded, tx_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
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
        );
      if (Number(result.changes) === 0) return false;
      if (customer?.kind === "key" && credit.amount > 0n) {
        options.ledger.credit({ owner: customer.owner, amount: credit.amount, ref: disputeId, reason: "refund" });
      }
      return true;
    });
    return inserted ? credit : undefined;
  }

  /** Credits every guilty verdict not credited yet; returns the new credits. Safe to call any time. */
  function scan(): RefundCredit[] {
    const done = db.prepare("SELECT 1 FROM refund_credits WHERE dispute_id = ?");
    const credits: RefundCredit[] = [];
    for (const { txHash, args } of resolvedGuilty()) {
      const disputeId = String(args.disputeId);
      if (done.get(disputeId)) continue;
      const credit = creditOne(disputeId, txHash, BigInt(String(args.refunded ?? 0)));
      if (credit) credits.push(credit);
    }
    for (const credit of credits) options.onRefund?.(credit);
    return credits;
  }

  return {
    scan,
    /** Refunds passed on to one customer (an API key owner or an x402 payer address), newest first. */
    list(args: { customer?: string; limit?: number } = {}): RefundCredit[] {
      const rows = db
        .prepare(
          `SELECT * FROM refund_credits WHERE (? IS NULL OR customer = ?) ORDER BY created_at DESC, dispute_id DESC
           LIMIT ?`,
        )
        .all(args.customer?.toLowerCase() ?? null, args.customer?.toLowerCase() ?? null, args.limit ?? 100) as Row[];
      return rows.map(toCredit);
    },
  };
}

export type RefundCredits = ReturnType<typeof createRefundCredits>;
