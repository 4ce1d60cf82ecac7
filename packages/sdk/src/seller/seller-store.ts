/**
 * The seller's own records, in one SQLite file (WAL, `synchronous=FULL`: a committed row survives
 * kill -9 and power loss): the x402 authorizations it accepted (the settlement guard's rows: one
 * authorization, one answer, across restarts) and, per Verity channel paying it, the charged total
 * and every voucher amount used (what the voucher gate checks replays against, and what `claim`
 * settles). Every write commits before the paywall lets the response out.
 */
import { openDatabase } from "@verity/chain";
import type { AuthorizationBacking, AuthorizationRecord, AuthorizationState } from "@verity/chain/x402";

export type SoldByVoucher = {
  channelId: `0x${string}`;
  charged: bigint;
  voucherAmount: bigint;
  signature: `0x${string}`;
};

export type SellerStore = ReturnType<typeof createSellerStore>;

export function createSellerStore(options: { path?: string } = {}) {
  const db = openDatabase(options.path ?? ":memory:");
  db.exec(`
    CREATE TABLE IF NOT EXISTS x402_authorizations (
      network TEXT NOT NULL, token TEXT NOT NULL, payer TEXT NOT NULL, nonce TEXT NOT NULL,
      state TEXT NOT NULL, amount TEXT NOT NULL, tx_hash TEXT, updated_at INTEGER NOT NULL,
      PRIMARY KEY (network, token, payer, nonce));
    CREATE TABLE IF NOT EXISTS x402_settlements (
      payer TEXT NOT NULL, nonce TEXT NOT NULL, tx_hash TEXT NOT NULL, amount TEXT NOT NULL,
      settled_at INTEGER NOT NULL, PRIMARY KEY (payer, nonce));
    CREATE TABLE IF NOT EXISTS voucher_channels (
      channel_id TEXT PRIMARY KEY, charged TEXT NOT NULL, voucher_amount TEXT NOT NULL,
      voucher_signature TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS voucher_uses (
      channel_id TEXT NOT NULL, amount TEXT NOT NULL, charge TEXT NOT NULL, at INTEGER NOT NULL,
      PRIMARY KEY (channel_id, amount));
  `);
  const where = "network = ? AND token = ? AND payer = ? AND nonce = ?";
  const q = {
    insert: db.prepare(
      `INSERT INTO x402_authorizations (network, token, payer, nonce, state, amount, updated_at)
       VALUES (?, ?, ?, ?, 'reserved', ?, ?) ON CONFLICT DO NOTHING`,
    ),
    get: db.prepare(`SELECT state, amount, tx_hash FROM x402_authorizations WHERE ${where}`),
    update: db.prepare(
      `UPDATE x402_authorizations SET state = ?, tx_hash = COALESCE(?, tx_hash), updated_at = ? WHERE ${where}`,
    ),
    transition: db.prepare(`UPDATE x402_authorizations SET state = ?, updated_at = ? WHERE ${where} AND state = ?`),
    remove: db.prepare(`DELETE FROM x402_authorizations WHERE ${where} AND state IN ('reserved', 'settling')`),
    log: db.prepare(
      "INSERT INTO x402_settlements (payer, nonce, tx_hash, amount, settled_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    ),
    channel: db.prepare("SELECT charged, voucher_amount, voucher_signature FROM voucher_channels WHERE channel_id = ?"),
    used: db.prepare("SELECT 1 FROM voucher_uses WHERE channel_id = ? AND amount = ?"),
    use: db.prepare("INSERT INTO voucher_uses (channel_id, amount, charge, at) VALUES (?, ?, ?, ?)"),
    upsert: db.prepare(
      `INSERT INTO voucher_channels (channel_id, charged, voucher_amount, voucher_signature) VALUES (?, ?, ?, ?)
       ON CONFLICT (channel_id) DO UPDATE SET charged = excluded.charged,
         voucher_amount = excluded.voucher_amount, voucher_signature = excluded.voucher_signature`,
    ),
    all: db.prepare("SELECT channel_id, charged, voucher_amount, voucher_signature FROM voucher_channels"),
  };

  const authorizations: AuthorizationBacking = {
    async insert(k, amount) {
      return q.insert.run(k.network, k.token, k.payer, k.nonce, amount.toString(), Date.now()).changes === 1;
    },
    async get(k) {
      const row = q.get.get(k.network, k.token, k.payer, k.nonce) as
        | { state: AuthorizationState; amount: string; tx_hash: string | null }
        | undefined;
      if (!row) return undefined;
      const record: AuthorizationRecord = { state: row.state, amount: BigInt(row.amount) };
      return row.tx_hash ? { ...record, txHash: row.tx_hash } : record;
    },
    async update(k, state, txHash) {
      q.update.run(state, txHash ?? null, Date.now(), k.network, k.token, k.payer, k.nonce);
    },
    async transition(k, from, to) {
      return q.transition.run(to, Date.now(), k.network, k.token, k.payer, k.nonce, from).changes === 1;
    },
    async remove(k) {
      return q.remove.run(k.network, k.token, k.payer, k.nonce).changes === 1;
    },
    async log(p) {
      q.log.run(p.payer.toLowerCase(), p.nonce.toLowerCase(), p.txHash, p.amount.toString(), Date.now());
    },
  };

  function channel(channelId: `0x${string}`): { charged: bigint; voucherAmount: bigint } {
    const row = q.channel.get(channelId.toLowerCase()) as { charged: string; voucher_amount: string } | undefined;
    return row
      ? { charged: BigInt(row.charged), voucherAmount: BigInt(row.voucher_amount) }
      : { charged: 0n, voucherAmount: 0n };
  }

  return {
    db,
    authorizations,
    /** What the voucher gate reads (`VoucherChargeStore`). */
    vouchers: {
      channel,
      voucherUsed(channelId: `0x${string}`, amount: bigint): boolean {
        return q.used.get(channelId.toLowerCase(), amount.toString()) !== undefined;
      },
      /** A sale paid by voucher: the use and the channel's new charged total, in one transaction. */
      record(sale: {
        channelId: `0x${string}`;
        voucherAmount: bigint;
        signature: `0x${string}`;
        charged: bigint;
        charge: bigint;
      }) {
        const id = sale.channelId.toLowerCase();
        db.exec("BEGIN IMMEDIATE");
        try {
          q.use.run(id, sale.voucherAmount.toString(), sale.charge.toString(), Date.now());
          const highest = channel(sale.channelId);
          const keep = highest.voucherAmount > sale.voucherAmount;
          const row = q.channel.get(id) as { voucher_signature: string } | undefined;
          q.upsert.run(
            id,
            sale.charged.toString(),
            (keep ? highest.voucherAmount : sale.voucherAmount).toString(),
            keep && row ? row.voucher_signature : sale.signature,
          );
          db.exec("COMMIT");
        } catch (error) {
          db.exec("ROLLBACK");
          throw error;
        }
      },
      /** Every channel with its charged total and the highest voucher (what a claim presents). */
      all(): SoldByVoucher[] {
        return (
          q.all.all() as { channel_id: string; charged: string; voucher_amount: string; voucher_signature: string }[]
        ).map((r) => ({
          channelId: r.channel_id as `0x${string}`,
          charged: BigInt(r.charged),
          voucherAmount: BigInt(r.voucher_amount),
          signature: r.voucher_signature as `0x${string}`,
        }));
      },
    },
    close(): void {
      db.close();
    },
  };
}
