import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import type { ChunkStream, VerityClient, VerityPayment } from "@verity/sdk";
import type { Hold, PrepaidLedgerHooks } from "./prepaid-ledger.ts";
import type { GatewayStore, StoreParam, StoreQueryable, StoreTx } from "./store/index.ts";
import type { X402Payments } from "./x402/index.ts";

/** Who paid the gateway for a request: a prepaid balance (an API key's owner) or an x402 payer. */
export type Customer = { kind: "key"; owner: string } | { kind: "x402"; payer: string };

/** One provider receipt the gateway paid for, and the customer it was bought for. */
export type PaidRequest = {
  requestId: `0x${string}`;
  channelId: `0x${string}`;
  agentId: string;
  /** What the provider charged the gateway (the receipt's `charge`). */
  providerCharge: bigint;
  cumulativeCharged: bigint;
  customer: Customer | null;
  /** What the customer paid the gateway for this receipt (markup included); null until settled. */
  billed: bigint | null;
  createdAt: number;
};

/** A verified receipt's row, kept in its scope until the prepaid settlement writes it. */
type PendingReceipt = {
  requestId: string;
  channelId: string;
  agentId: string;
  providerCharge: bigint;
  cumulativeCharged: bigint;
  createdAt: number;
};

type Scope = { id: string; customer?: Customer; x402Billed?: bigint; pending?: PendingReceipt[] };

type Row = {
  request_id: string;
  channel_id: string;
  agent_id: string;
  provider_charge: string;
  cumulative_charged: string;
  customer_kind: string | null;
  customer: string | null;
  billed: string | null;
  created_at: string;
};

function toPaidRequest(row: Row): PaidRequest {
  return {
    requestId: row.request_id as `0x${string}`,
    channelId: row.channel_id as `0x${string}`,
    agentId: row.agent_id,
    providerCharge: BigInt(row.provider_charge),
    cumulativeCharged: BigInt(row.cumulative_charged),
    customer:
      row.customer_kind === "key"
        ? { kind: "key", owner: row.customer as string }
        : row.customer_kind === "x402"
          ? { kind: "x402", payer: row.customer as string }
          : null,
    billed: row.billed === null ? null : BigInt(row.billed),
    createdAt: Number(row.created_at),
  };
}

/**
 * Remembers, for every receipt the gateway's SDK client verified, which customer the request was
 * bought for and what that customer was billed, so a refund for that receipt can be passed on.
 *
 * Each HTTP request runs in its own async scope (`run`). The customer enters the scope when payment
 * is authorized (the prepaid ledger's hold, or the verified x402 payment). For a prepaid balance
 * the request's verified receipts are written to `paid_requests`, already billed, by one statement
 * inside the settlement's transaction (the charge and its attribution commit together, and no
 * statement runs beside the provider call); a request that ends without settling leaves no row,
 * which a refund treats as it did an unbilled one (retained by the gateway). For x402 each receipt
 * is written as it arrives and billed right after the on-chain settlement. A request with several
 * receipts (failover mid-stream) splits the customer's bill pro rata to the receipts' charges.
 */
export function createRefundAttribution(options: { store: GatewayStore }) {
  const { store } = options;
  const storage = new AsyncLocalStorage<Scope>();
  const current = () => storage.getStore();

  async function recordReceipt(verity: VerityPayment | undefined, agentId: bigint): Promise<void> {
    const scope = current();
    if (!verity || !scope) return;
    const customer = scope.customer;
    if (customer?.kind === "key") {
      // A prepaid hold is open: the settlement writes this row in its own transaction.
      scope.pending ??= [];
      scope.pending.push({
        requestId: verity.requestId.toLowerCase(),
        channelId: (verity.channelId ?? verity.receipt.channelId).toLowerCase(),
        agentId: agentId.toString(),
        providerCharge: BigInt(verity.charge),
        cumulativeCharged: BigInt(verity.charged),
        createdAt: Date.now(),
      });
      return;
    }
    await store.query(
      `INSERT INTO paid_requests (request_id, scope_id, channel_id, agent_id, provider_charge,
        cumulative_charged, customer_kind, customer, billed, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9) ON CONFLICT (request_id) DO NOTHING`,
      [
        verity.requestId.toLowerCase(),
        scope.id,
        (verity.channelId ?? verity.receipt.channelId).toLowerCase(),
        agentId.toString(),
        verity.charge,
        verity.charged,
        customer?.kind ?? null,
        customer ? customer.payer.toLowerCase() : null,
        Date.now(),
      ],
    );
    // An x402 stream settles at its first token, before its receipts arrive: bill them as they come.
    const billed = scope.x402Billed;
    if (billed !== undefined) await store.transaction((tx) => bill(tx, scope.id, billed));
  }

  /** Splits `total` over the scope's receipts in proportion to their provider charges. */
  async function bill(tx: StoreQueryable, scopeId: string, total: bigint): Promise<void> {
    const rows = await tx.query<{ request_id: string; provider_charge: string }>(
      "SELECT request_id, provider_charge FROM paid_requests WHERE scope_id = $1 ORDER BY seq",
      [scopeId],
    );
    const sum = rows.reduce((s, r) => s + BigInt(r.provider_charge), 0n);
    let left = total;
    for (const [i, r] of rows.entries()) {
      const share = i === rows.length - 1 ? left : sum === 0n ? 0n : (total * BigInt(r.provider_charge)) / sum;
      left -= share;
      await tx.query("UPDATE paid_requests SET billed = $1 WHERE request_id = $2", [share, r.request_id]);
    }
  }

  /** Pro-rata shares of `total` over `charges` (the last takes the rounding remainder). */
  function shares(charges: readonly bigint[], total: bigint): bigint[] {
    const sum = charges.reduce((s, c) => s + c, 0n);
    let left = total;
    return charges.map((c, i) => {
      const share = i === charges.length - 1 ? left : sum === 0n ? 0n : (total * c) / sum;
      left -= share;
      return share;
    });
  }

  /** Writes a prepaid scope's receipts, billed `total` between them, in one statement of `tx`. */
  async function writeBilled(tx: StoreQueryable, scope: Scope, owner: string, total: bigint): Promise<void> {
    const pending = scope.pending ?? [];
    scope.pending = [];
    if (pending.length === 0) return;
    const billed = shares(
      pending.map((p) => p.providerCharge),
      total,
    );
    const params: StoreParam[] = [];
    const rows = pending.map((p, i) => {
      const at = params.length;
      params.push(
        p.requestId,
        scope.id,
        p.channelId,
        p.agentId,
        p.providerCharge,
        p.cumulativeCharged,
        "key",
        owner.toLowerCase(),
        billed[i] as bigint,
        p.createdAt,
      );
      return `(${Array.from({ length: 10 }, (_, k) => `$${at + k + 1}`).join(", ")})`;
    });
    await tx.query(
      `INSERT INTO paid_requests (request_id, scope_id, channel_id, agent_id, provider_charge,
        cumulative_charged, customer_kind, customer, billed, created_at)
       VALUES ${rows.join(", ")} ON CONFLICT (request_id) DO NOTHING`,
      params,
    );
  }

  function wrapStream<T extends { verity?: VerityPayment }>(stream: ChunkStream<T>, agentId: bigint): ChunkStream<T> {
    return {
      controller: stream.controller,
      async *[Symbol.asyncIterator]() {
        for await (const chunk of stream) {
          if (chunk.verity) await recordReceipt(chunk.verity, agentId);
          yield chunk;
        }
      },
    };
  }

  function wrapCreate<F extends (params: never, opts?: { agentId?: bigint }) => Promise<unknown>>(create: F): F {
    return (async (params: never, opts?: { agentId?: bigint }) => {
      const result = (await create(params, opts)) as
        | { verity?: VerityPayment }
        | ChunkStream<{ verity?: VerityPayment }>;
      if (Symbol.asyncIterator in result) return wrapStream(result, opts?.agentId ?? 0n);
      await recordReceipt(result.verity, BigInt(result.verity?.agentId ?? opts?.agentId ?? 0n));
      return result;
    }) as F;
  }

  return {
    /** Runs one HTTP request's handling in its own attribution scope. */
    run<T>(fn: () => T): T {
      return storage.run({ id: randomUUID() }, fn);
    },
    /** Prepaid-ledger hooks: the hold names the customer, the settlement bills it (same transaction). */
    ledgerHooks: {
      onHold(hold: Hold): void {
        const scope = current();
        if (scope) scope.customer = { kind: "key", owner: hold.owner };
      },
      async onSettled({ hold, charged }: { hold: Hold; charged: bigint }, tx: StoreTx): Promise<void> {
        const scope = current();
        if (!scope) return;
        if (scope.customer?.kind === "key") await writeBilled(tx, scope, hold.owner, charged);
        else await bill(tx, scope.id, charged);
      },
    } satisfies PrepaidLedgerHooks,
    /** The SDK client with every verified receipt recorded against the current scope's customer. */
    wrapClient(client: VerityClient): VerityClient {
      return {
        ...client,
        chat: { completions: { create: wrapCreate(client.chat.completions.create) } },
        completions: { create: wrapCreate(client.completions.create) },
      };
    },
    /** x402 payments whose verified payer becomes the scope's customer and whose settlement bills it. */
    wrapX402(x402: X402Payments): X402Payments {
      return {
        ...x402,
        async verify(headers, charge) {
          const verified = await x402.verify(headers, charge);
          const scope = current();
          if (scope) scope.customer = { kind: "x402", payer: verified.payer.toLowerCase() };
          return verified;
        },
        get batchClaims() {
          return x402.batchClaims;
        },
        async settle(verified, charge) {
          const settlement = await x402.settle(verified, charge);
          const scope = current();
          if (scope) {
            scope.x402Billed = settlement.amount;
            await store.transaction((tx) => bill(tx, scope.id, settlement.amount));
          }
          return settlement;
        },
      };
    },
    /** The stored attribution of a receipt's request id. */
    async get(requestId: string, tx: StoreQueryable = store): Promise<PaidRequest | undefined> {
      const [row] = await tx.query<Row>("SELECT * FROM paid_requests WHERE request_id = $1", [requestId.toLowerCase()]);
      return row ? toPaidRequest(row) : undefined;
    },
  };
}

export type RefundAttribution = ReturnType<typeof createRefundAttribution>;
