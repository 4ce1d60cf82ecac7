/**
 * The gateway's settlement guard: `createAuthorizationGuard` (see @verity/chain/x402) over the
 * gateway store's `x402_authorizations` and `x402_settlements` tables, so every transition is
 * committed before the call returns and replicas sharing the database see each other's records.
 * Without a store the records live in memory (tests, one-off servers).
 */
import {
  type AuthorizationBacking,
  type AuthorizationState,
  createAuthorizationGuard,
  type NormalizedKey,
  type SettlementGuard,
} from "@verity/chain/x402";
import type { GatewayStore } from "../store/index.ts";

export function createSettlementGuard(db?: GatewayStore): SettlementGuard {
  return createAuthorizationGuard(db ? storeBacked(db) : undefined);
}

function storeBacked(db: GatewayStore): AuthorizationBacking {
  const where = "network = $1 AND token = $2 AND payer = $3 AND nonce = $4";
  const args = (k: NormalizedKey) => [k.network, k.token, k.payer, k.nonce];
  return {
    async insert(k, amount) {
      const now = Date.now();
      const rows = await db.query(
        `INSERT INTO x402_authorizations (network, token, payer, nonce, state, amount, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'reserved', $5, $6, $6) ON CONFLICT DO NOTHING RETURNING nonce`,
        [...args(k), amount, now],
      );
      return rows.length === 1;
    },
    async get(k) {
      const [row] = await db.query<{ state: AuthorizationState; amount: string; tx_hash: string | null }>(
        `SELECT state, amount, tx_hash FROM x402_authorizations WHERE ${where}`,
        args(k),
      );
      if (!row) return undefined;
      return { state: row.state, amount: BigInt(row.amount), ...(row.tx_hash ? { txHash: row.tx_hash } : {}) };
    },
    async update(k, state, txHash) {
      await db.query(
        `UPDATE x402_authorizations SET state = $5, tx_hash = COALESCE($6, tx_hash), updated_at = $7 WHERE ${where}`,
        [...args(k), state, txHash ?? null, Date.now()],
      );
    },
    async transition(k, from, to) {
      const rows = await db.query(
        `UPDATE x402_authorizations SET state = $6, updated_at = $7 WHERE ${where} AND state = $5 RETURNING nonce`,
        [...args(k), from, to, Date.now()],
      );
      return rows.length === 1;
    },
    async remove(k) {
      const rows = await db.query(
        `DELETE FROM x402_authorizations WHERE ${where} AND state IN ('reserved', 'settling') RETURNING nonce`,
        args(k),
      );
      return rows.length === 1;
    },
    async log(p) {
      await db.query(
        `INSERT INTO x402_settlements (payer, nonce, tx_hash, amount, settled_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING`,
        [p.payer.toLowerCase(), p.nonce.toLowerCase(), p.txHash, p.amount, Date.now()],
      );
    },
  };
}
