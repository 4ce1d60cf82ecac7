/**
 * Refuses to settle one x402 payment twice. The chain already does (an EIP-3009 nonce can be used
 * once per payer), so this guard only makes a replay fail fast and without gas: a payment is
 * "in flight" from the moment `settle` claims it (synchronously, so two concurrent requests carrying
 * the same header cannot both submit) until the chain answers; then it is either recorded as settled
 * or released (a failed settlement leaves the nonce unused on chain, so the payer may retry it).
 *
 * Without a database the record lives in memory (lost on restart; the chain still refuses the
 * replay, just after a verify round-trip). With a `node:sqlite` database the settled payments are
 * also written to the `x402_settlements` table, which doubles as the gateway's settlement log.
 */
import type { DatabaseSync } from "node:sqlite";

export type SettledPayment = { payer: string; nonce: string; txHash: string; amount: bigint };

export type SettlementGuard = {
  /** Whether this payment was settled (or is being settled) already. */
  isUsed(payer: string, nonce: string): boolean;
  /** Claims the payment for settlement; false when it is settled or in flight already. */
  claim(payer: string, nonce: string): boolean;
  /** Records a claimed payment as settled. */
  settled(payment: SettledPayment): void;
  /** Gives up a claim whose settlement failed (the nonce stays unused on chain). */
  release(payer: string, nonce: string): void;
  /** The settlement of a payment, if recorded. */
  get(payer: string, nonce: string): SettledPayment | undefined;
};

const keyOf = (payer: string, nonce: string) => `${payer.toLowerCase()}:${nonce.toLowerCase()}`;

export function createSettlementGuard(db?: DatabaseSync): SettlementGuard {
  const inFlight = new Set<string>();
  const settled = new Map<string, SettledPayment>();
  const store = db ? sqliteStore(db) : undefined;

  function get(payer: string, nonce: string): SettledPayment | undefined {
    return settled.get(keyOf(payer, nonce)) ?? store?.get(payer, nonce);
  }
  return {
    get,
    isUsed: (payer, nonce) => inFlight.has(keyOf(payer, nonce)) || get(payer, nonce) !== undefined,
    claim(payer, nonce) {
      const key = keyOf(payer, nonce);
      if (inFlight.has(key) || get(payer, nonce) !== undefined) return false;
      inFlight.add(key);
      return true;
    },
    settled(payment) {
      const key = keyOf(payment.payer, payment.nonce);
      store?.put(payment);
      settled.set(key, payment);
      inFlight.delete(key);
    },
    release(payer, nonce) {
      inFlight.delete(keyOf(payer, nonce));
    },
  };
}

function sqliteStore(db: DatabaseSync) {
  db.exec(`CREATE TABLE IF NOT EXISTS x402_settlements (
    payer TEXT NOT NULL,
    nonce TEXT NOT NULL,
    tx_hash TEXT NOT NULL,
    amount TEXT NOT NULL,
    settled_at INTEGER NOT NULL,
    PRIMARY KEY (payer, nonce)
  )`);
  const select = db.prepare("SELECT tx_hash, amount FROM x402_settlements WHERE payer = ? AND nonce = ?");
  const insert = db.prepare(
    "INSERT OR IGNORE INTO x402_settlements (payer, nonce, tx_hash, amount, settled_at) VALUES (?, ?, ?, ?, ?)",
  );
  return {
    get(payer: string, nonce: string): SettledPayment | undefined {
      const row = select.get(payer.toLowerCase(), nonce.toLowerCase()) as
        | { tx_hash: string; amount: string }
        | undefined;
      return row ? { payer, nonce, txHash: row.tx_hash, amount: BigInt(row.amount) } : undefined;
    },
    put(payment: SettledPayment): void {
      insert.run(
        payment.payer.toLowerCase(),
        payment.nonce.toLowerCase(),
        payment.txHash,
        payment.amount.toString(),
        Date.now(),
      );
    },
  };
}
