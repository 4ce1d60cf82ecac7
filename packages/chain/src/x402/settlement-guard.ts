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
 * With a durable backing (the gateway store, the seller's SQLite file) every transition is committed before the call returns, so a kill -9 after
 * `reserve` cannot free the authorization: a restarted gateway refuses it as replayed. `reserve` is
 * one `INSERT … ON CONFLICT DO NOTHING` on the primary key, so two concurrent requests with the same
 * authorization — through one replica or several sharing the database — cannot both reserve it.
 * Without a store the record lives in memory (tests, one-off servers); the chain still refuses a
 * settled nonce. "Live" is per process: another replica's reservation counts as used here.
 */
export type AuthorizationKey = { network: string; token: string; payer: string; nonce: string };
export type AuthorizationState = "reserved" | "settling" | "settled" | "pending" | "void";
export type AuthorizationRecord = { state: AuthorizationState; amount: bigint; txHash?: string };
export type SettledPayment = { payer: string; nonce: string; txHash: string; amount: bigint };

export type SettlementGuard = {
  /** Records a verified authorization; false when it is recorded already (in any state). */
  reserve(key: AuthorizationKey, amount: bigint): Promise<boolean>;
  get(key: AuthorizationKey): Promise<AuthorizationRecord | undefined>;
  /** Whether a request of this process holds the authorization right now (reserved or settling). */
  isLive(key: AuthorizationKey): boolean;
  /** reserved → settling; false when the authorization is not reserved (e.g. already submitted). */
  beginSettlement(key: AuthorizationKey): Promise<boolean>;
  settled(key: AuthorizationKey, txHash: string): Promise<void>;
  /** Settlement in doubt: kept as used, with the transaction that may still land. */
  pending(key: AuthorizationKey, txHash?: string): Promise<void>;
  /** The nonce was consumed on chain by another transaction (cancelled by the payer). */
  voided(key: AuthorizationKey): Promise<void>;
  /** Frees a reservation that was never submitted, or whose submission left the nonce unused. */
  release(key: AuthorizationKey): Promise<void>;
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

export function createAuthorizationGuard(backing?: AuthorizationBacking): SettlementGuard {
  const live = new Set<string>();
  const store = backing ?? memoryStore();
  const set = async (key: AuthorizationKey, state: AuthorizationState, txHash?: string) => {
    await store.update(norm(key), state, txHash);
    if (state === "reserved" || state === "settling") live.add(keyOf(key));
    else live.delete(keyOf(key));
  };
  return {
    async reserve(key, amount) {
      if (!(await store.insert(norm(key), amount))) return false;
      live.add(keyOf(key));
      return true;
    },
    get: (key) => store.get(norm(key)),
    isLive: (key) => live.has(keyOf(key)),
    async beginSettlement(key) {
      // One conditional UPDATE: reserved → settling happens once, whoever asks.
      if (!(await store.transition(norm(key), "reserved", "settling"))) return false;
      live.add(keyOf(key));
      return true;
    },
    async settled(key, txHash) {
      await set(key, "settled", txHash);
      const record = await store.get(norm(key));
      await store.log({ payer: key.payer, nonce: key.nonce, txHash, amount: record?.amount ?? 0n });
    },
    pending: (key, txHash) => set(key, "pending", txHash),
    voided: (key) => set(key, "void"),
    async release(key) {
      if (await store.remove(norm(key))) live.delete(keyOf(key));
    },
  };
}

/** An authorization in normal form (addresses and nonce lower-case). */
export type NormalizedKey = ReturnType<typeof norm>;
type Norm = NormalizedKey;
/** Where a guard keeps its records (memory by default; the gateway store; the seller's SQLite). */
export type AuthorizationBacking = {
  insert(k: Norm, amount: bigint): Promise<boolean>;
  get(k: Norm): Promise<AuthorizationRecord | undefined>;
  update(k: Norm, state: AuthorizationState, txHash?: string): Promise<void>;
  /** `from` → `to` when the record is in state `from`; whether it was. */
  transition(k: Norm, from: AuthorizationState, to: AuthorizationState): Promise<boolean>;
  /** Deletes a reserved or settling record; whether there was one. */
  remove(k: Norm): Promise<boolean>;
  log(payment: SettledPayment): Promise<void>;
};

function memoryStore(): AuthorizationBacking {
  const rows = new Map<string, AuthorizationRecord>();
  const id = (k: Norm) => `${k.network}:${k.token}:${k.payer}:${k.nonce}`;
  return {
    async insert(k, amount) {
      if (rows.has(id(k))) return false;
      rows.set(id(k), { state: "reserved", amount });
      return true;
    },
    get: async (k) => rows.get(id(k)),
    async update(k, state, txHash) {
      const row = rows.get(id(k));
      if (row) rows.set(id(k), { ...row, state, ...(txHash ? { txHash } : {}) });
    },
    async transition(k, from, to) {
      const row = rows.get(id(k));
      if (row?.state !== from) return false;
      rows.set(id(k), { ...row, state: to });
      return true;
    },
    async remove(k) {
      const state = rows.get(id(k))?.state;
      if (state !== "reserved" && state !== "settling") return false;
      rows.delete(id(k));
      return true;
    },
    async log() {},
  };
}
