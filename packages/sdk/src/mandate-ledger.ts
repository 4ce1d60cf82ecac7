/**
 * Enforces a spend mandate before the client signs anything: every paid request reserves its
 * ceiling against the mandate's limits (per call, rolling hour, rolling day, total) in the client's
 * SQLite state, in the same synchronous transaction that checks them, so concurrent requests cannot
 * overshoot a budget (the check and the insert cannot interleave, and `BEGIN IMMEDIATE` serialises
 * processes sharing the state folder). A verified receipt lowers the spend to what was charged; a
 * request that reached no provider gives its reservation back; an outcome the client cannot know
 * (aborted, broken stream, refused receipt) keeps counting its ceiling — the conservative side.
 *
 * The rows live in the channel store's database, so the flush that makes a reservation durable
 * before its voucher leaves covers the mandate spend too.
 */
import type { DatabaseSync } from "node:sqlite";
import { inTransaction } from "@verity/chain";
import {
  checkMandateTime,
  MandateError,
  type MandateOffer,
  mandateHash,
  mandateRefusal,
  type SignedMandate,
} from "@verity/core";

export type MandateSpend = { hour: bigint; day: bigint; total: bigint };

export type MandateLedger = {
  readonly hash: `0x${string}`;
  readonly signed: SignedMandate;
  /** Offers the mandate allows (model, quantization, counterparty, unit prices). */
  allows(offer: MandateOffer): boolean;
  /** Throws the refusal for `offer` (`mandate_not_allowed` / `mandate_exceeded`), if any. */
  admit(offer: MandateOffer): void;
  /** Throws `mandate_expired` / `mandate_exceeded` if `amount` cannot be spent now (reserves nothing). */
  check(amount: bigint): void;
  /** Checks and records `amount` for request `id` in one transaction; throws (recording nothing) if refused. */
  reserve(id: string, amount: bigint): void;
  /** Raises request `id`'s reservation to `amount` (a provider asked for a larger ceiling), or throws. */
  resize(id: string, amount: bigint): void;
  /** The request was charged `charge` (a verified receipt): its spend becomes at most that. */
  settle(id: string, charge: bigint): void;
  /** The request reached no provider: its reservation is given back. */
  release(id: string): void;
  spent(): MandateSpend;
};

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export function createMandateLedger(options: {
  db: DatabaseSync;
  signed: SignedMandate;
  /** The client's clock in ms (default `Date.now`). */
  now?: () => number;
}): MandateLedger {
  const { db, signed } = options;
  const mandate = signed.mandate;
  const now = options.now ?? Date.now;
  const hash = mandateHash(signed);
  db.exec(`CREATE TABLE IF NOT EXISTS mandate_spends (
    id TEXT PRIMARY KEY,
    mandate TEXT NOT NULL,
    amount TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('reserved', 'settled'))
  )`);
  db.exec("CREATE INDEX IF NOT EXISTS mandate_spends_by_time ON mandate_spends (mandate, created_at)");
  const rows = db.prepare("SELECT amount, created_at FROM mandate_spends WHERE mandate = ?");
  const others = db.prepare("SELECT amount, created_at FROM mandate_spends WHERE mandate = ? AND id <> ?");
  const one = db.prepare("SELECT amount, created_at FROM mandate_spends WHERE id = ? AND mandate = ?");
  const insert = db.prepare(
    "INSERT INTO mandate_spends (id, mandate, amount, created_at, status) VALUES (?, ?, ?, ?, 'reserved')",
  );
  const update = db.prepare("UPDATE mandate_spends SET amount = ?, status = ? WHERE id = ? AND mandate = ?");
  const remove = db.prepare("DELETE FROM mandate_spends WHERE id = ? AND mandate = ?");

  function spentAt(at: number, except?: string): MandateSpend {
    const spend = { hour: 0n, day: 0n, total: 0n };
    const all = except
      ? (db
          .prepare("SELECT amount, created_at FROM mandate_spends WHERE mandate = ? AND id <> ?")
          .all(hash, except) as {
          amount: string;
          created_at: number;
        }[])
      : (rows.all(hash) as { amount: string; created_at: number }[]);
    for (const row of all) {
      const amount = BigInt(row.amount);
      spend.total += amount;
      if (row.created_at > at - DAY_MS) spend.day += amount;
      if (row.created_at > at - HOUR_MS) spend.hour += amount;
    }
    return spend;
  }

  function exceeded(limit: string, allowed: bigint, spent: bigint, amount: bigint): MandateError {
    return new MandateError(`This payment of ${amount} would exceed the mandate's ${limit.replace("_", " ")} limit`, {
      code: "mandate_exceeded",
      hint:
        limit === "per_call"
          ? "Lower max_tokens or shorten the prompt, or ask the owner for a larger per-call limit"
          : "Wait for the window to roll over, or ask the owner for a new mandate",
      details: {
        limit,
        allowed: allowed.toString(),
        spent: spent.toString(),
        amount: amount.toString(),
        mandate: hash,
      },
    });
  }

  function judge(amount: bigint, at: number, except?: string): void {
    checkMandateTime(mandate, BigInt(Math.floor(at / 1000)));
    if (mandate.perCall > 0n && amount > mandate.perCall) throw exceeded("per_call", mandate.perCall, 0n, amount);
    const spent = spentAt(at, except);
    if (mandate.perHour > 0n && spent.hour + amount > mandate.perHour) {
      throw exceeded("per_hour", mandate.perHour, spent.hour, amount);
    }
    if (mandate.perDay > 0n && spent.day + amount > mandate.perDay) {
      throw exceeded("per_day", mandate.perDay, spent.day, amount);
    }
    if (mandate.total > 0n && spent.total + amount > mandate.total) {
      throw exceeded("total", mandate.total, spent.total, amount);
    }
  }

  function refusalOf(offer: MandateOffer): MandateError | undefined {
    const refusal = mandateRefusal(mandate, offer);
    if (!refusal) return undefined;
    return new MandateError(`The spend mandate does not allow this offer (${refusal.limit.replaceAll("_", " ")})`, {
      code: refusal.code,
      hint: "Ask for a model, quantization and provider the mandate lists, within its prices",
      details: {
        limit: refusal.limit,
        model: offer.model,
        agentId: offer.agentId.toString(),
        ...(offer.quantization ? { quantization: offer.quantization } : {}),
        mandate: hash,
      },
    });
  }

  return {
    hash,
    signed,
    allows: (offer) => refusalOf(offer) === undefined,
    admit(offer) {
      const error = refusalOf(offer);
      if (error) throw error;
    },
    check(amount) {
      judge(amount, now());
    },
    reserve(id, amount) {
      inTransaction(db, () => {
        const at = now();
        judge(amount, at);
        insert.run(id, hash, amount.toString(), at);
      });
    },
    resize(id, amount) {
      inTransaction(db, () => {
        const row = one.get(id, hash) as { amount: string; created_at: number } | undefined;
        if (!row) return;
        if (amount <= BigInt(row.amount)) return;
        judge(amount, now(), id);
        update.run(amount.toString(), "reserved", id, hash);
      });
    },
    settle(id, charge) {
      const row = one.get(id, hash) as { amount: string } | undefined;
      if (!row) return;
      const amount = BigInt(row.amount);
      update.run((charge < amount ? charge : amount).toString(), "settled", id, hash);
    },
    release(id) {
      remove.run(id, hash);
    },
    spent: () => spentAt(now()),
  };
}
