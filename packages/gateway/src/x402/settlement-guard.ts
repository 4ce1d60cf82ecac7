/**
 * One x402 authorization, one answer. An EIP-3009 authorization is identified by its nonce, per
 * payer and token (and network); the guard records it the moment `verify` accepts it — before any
 * work starts — and from then on no other request may use it:
 *
 * - `reserved`: verified, the request is being worked on (not yet settled);
 * - `settling`: `transferWithAuthorization` is being submitted;
 * - `settled`: the transfer is on chain (also written to `x402_settlements`, the settlement log);
 * - `pending`: settlement is in doubt (broadcast, receipt not seen in time) — kept, never retried
 *   with this authorization, so a late landing cannot become a second charge;
 * - `void`: the nonce was consumed on chain by something else (the payer cancelled it).
 *
 * Only a reservation whose request delivered nothing and was never submitted for settlement is
 * released (deleted): the nonce is still unused on chain and the payer may send it again.
 *
 * With a `node:sqlite` database (the gateway's, opened WAL + synchronous=FULL) every transition is
 * committed before the call returns, so a kill -9 after `reserve` cannot free the authorization: a
 * restarted gateway refuses it as replayed. `reserve` is one `INSERT` on the primary key, so two
 * concurrent requests with the same authorization cannot both reserve it. Without a database the
 * record lives in memory (tests, one-off servers); the chain still refuses a settled nonce.
 */
import type { DatabaseSync } from "node:sqlite";

export type AuthorizationKey = { network: string; token: string; payer: string; nonce: string };
export type AuthorizationState = "reserved" | "settling" | "settled" | "pending" | "void";
export type AuthorizationRecord = { state: AuthorizationState; amount: bigint; txHash?: string };
export type SettledPayment = { payer: string; nonce: string; txHash: string; amount: bigint };

export type SettlementGuard = {
  /** Records a verified authorization; false when it is recorded already (in any state). */
  reserve(key: AuthorizationKey, amount: bigint): boolean;
  get(key: AuthorizationKey): AuthorizationRecord | undefined;
  /** Whether a request of this process holds the authorization right now (reserved or settling). */
  isLive(key: AuthorizationKey): boolean;
  /** reserved → settling; false when the authorization is not reserved (e.g. already submitted). */
  beginSettlement(key: AuthorizationKey): boolean;
  settled(key: AuthorizationKey, txHash: string): void;
  /** Settlement in doubt: kept as used, with the transaction that may still land. */
  pending(key: AuthorizationKey, txHash?: string): void;
  /** The nonce was consumed on chain by another transaction (cancelled by the payer). */
  voided(key: AuthorizationKey): void;
  /** Frees a reservation that was never submitted, or whose submission left the nonce unused. */
  release(key: AuthorizationKey): void;
};

const norm = (k: AuthorizationKey) => ({
  network: k.network,
  token: k.token.toLowerCase(),
  payer: k.payer.toLowerCase(),
  nonce: k.nonce.toLowerCase(),
});
const keyOf = (k: AuthorizationKey) => {
  const n = norm(k);
  return `${n.network}:${n.token}:${n.payer}:${n.nonce}`;
};

export function createSettlementGuard(db?: DatabaseSync): SettlementGuard {
  const live = new Set<string>();
  const store = db ? sqliteStore(db) : memoryStore();
  const set = (key: AuthorizationKey, state: AuthorizationState, txHash?: string) => {
    store.update(norm(key), state, txHash);
    if (state === "reserved" || state === "settling") live.add(keyOf(key));
    else live.delete(keyOf(key));
  };
  return {
    reserve(key, amount) {
      if (!store.insert(norm(key), amount)) return false;
      live.add(keyOf(key));
      return true;
    },
    get: (key) => store.get(norm(key)),
    isLive: (key) => live.has(keyOf(key)),
    beginSettlement(key) {
      if (store.get(norm(key))?.state !== "reserved") return false;
      set(key, "settling");
      return true;
    },
    settled(key, txHash) {
      set(key, "settled", txHash);
      const record = store.get(norm(key));
      store.log({ payer: key.payer, nonce: key.nonce, txHash, amount: record?.amount ?? 0n });
    },
    pending: (key, txHash) => set(key, "pending", txHash),
    voided: (key) => set(key, "void"),
    release(key) {
      const state = store.get(norm(key))?.state;
      if (state !== "reserved" && state !== "settling") return;
      store.remove(norm(key));
      live.delete(keyOf(key));
    },
  };
}

type Norm = ReturnType<typeof norm>;
type Store = {
  insert(k: Norm, amount: bigint): boolean;
  get(k: Norm): AuthorizationRecord | undefined;
  update(k: Norm, state: AuthorizationState, txHash?: string): void;
  remove(k: Norm): void;
  log(payment: SettledPayment): void;
};

function memoryStore(): Store {
  const rows = new Map<string, AuthorizationRecord>();
  const id = (k: Norm) => `${k.network}:${k.token}:${k.payer}:${k.nonce}`;
  return {
    insert(k, amount) {
      if (rows.has(id(k))) return false;
      rows.set(id(k), { state: "reserved", amount });
      return true;
    },
    get: (k) => rows.get(id(k)),
    update(k, state, txHash) {
      const row = rows.get(id(k));
      if (row) rows.set(id(k), { ...row, state, ...(txHash ? { txHash } : {}) });
    },
    remove: (k) => {
      rows.delete(id(k));
    },
    log() {},
  };
}

function sqliteStore(db: DatabaseSync): Store {
  db.exec(`CREATE TABLE IF NOT EXISTS x402_authorizations (
    network TEXT NOT NULL,
    token TEXT NOT NULL,
    payer TEXT NOT NULL,
    nonce TEXT NOT NULL,
    state TEXT NOT NULL,
    amount TEXT NOT NULL,
    tx_hash TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (network, token, payer, nonce)
  );
  CREATE TABLE IF NOT EXISTS x402_settlements (
    payer TEXT NOT NULL,
    nonce TEXT NOT NULL,
    tx_hash TEXT NOT NULL,
    amount TEXT NOT NULL,
    settled_at INTEGER NOT NULL,
    PRIMARY KEY (payer, nonce)
  )`);
  const insert = db.prepare(
    `INSERT OR IGNORE INTO x402_authorizations (network, token, payer, nonce, state, amount, created_at, updated_at)
     VALUES (?, ?, ?, ?, 'reserved', ?, ?, ?)`,
  );
  const where = "network = ? AND token = ? AND payer = ? AND nonce = ?";
  const select = db.prepare(`SELECT state, amount, tx_hash FROM x402_authorizations WHERE ${where}`);
  const update = db.prepare(
    `UPDATE x402_authorizations SET state = ?, tx_hash = COALESCE(?, tx_hash), updated_at = ? WHERE ${where}`,
  );
  const remove = db.prepare(`DELETE FROM x402_authorizations WHERE ${where}`);
  const log = db.prepare(
    "INSERT OR IGNORE INTO x402_settlements (payer, nonce, tx_hash, amount, settled_at) VALUES (?, ?, ?, ?, ?)",
  );
  const args = (k: Norm) => [k.network, k.token, k.payer, k.nonce] as const;
  return {
    insert: (k, amount) => {
      const now = Date.now();
      return insert.run(...args(k), amount.toString(), now, now).changes === 1;
    },
    get(k) {
      const row = select.get(...args(k)) as
        | { state: AuthorizationState; amount: string; tx_hash: string | null }
        | undefined;
      if (!row) return undefined;
      return { state: row.state, amount: BigInt(row.amount), ...(row.tx_hash ? { txHash: row.tx_hash } : {}) };
    },
    update: (k, state, txHash) => {
      update.run(state, txHash ?? null, Date.now(), ...args(k));
    },
    remove: (k) => {
      remove.run(...args(k));
    },
    log: (p) => {
      log.run(p.payer.toLowerCase(), p.nonce.toLowerCase(), p.txHash, p.amount.toString(), Date.now());
    },
  };
}
