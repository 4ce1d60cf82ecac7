/**
 * Durable per-channel payment state: the charged total proven by verified receipts, the highest
 * voucher ever signed, and the reservations of requests in flight. A reservation and the new
 * highest voucher are committed (synchronous=FULL) before the voucher is signed, so a client
 * restarted after a crash never signs below what a provider may already hold and never forgets a
 * request whose charge it has not seen yet.
 *
 * Voucher rule: `amount = max(charged + pending + ceiling, highestSigned + 1)`, where `pending` sums
 * the ceilings of every open reservation. Amounts strictly increase (a provider refuses a reused
 * amount as `voucher_replayed`) and exposure stays bounded by the ceilings in flight.
 *
 * Reservations are `live` while this process waits for the answer and `orphaned` when the outcome
 * is unknown (connection lost, stream abandoned, process restarted): the provider may or may not
 * have charged it. Orphans keep counting as pending, so later vouchers still cover what the
 * provider may be owed, and they are dropped once a later receipt has settled on the channel and
 * the orphan is older than `orphanGraceMs` — by then the provider's cumulative total includes it.
 *
 * Every channel has a random 32-byte audit secret (created with its row, or on first use for a
 * channel recorded by an older version). It is committed before any voucher leaves, so the seed keys
 * and audit draws of every request on the channel can be shown later. Once a receipt under it is
 * selected for audit (the secret will be revealed) the channel moves to a fresh secret; every secret
 * stays in `audit_secrets`, found by its commitment, for the reveals of receipts signed under it.
 */

import { randomBytes, randomUUID } from "node:crypto";
import type { DatabaseSync } from "node:sqlite";
import { createGroupCommit, inTransaction } from "@verity/chain";
import { auditCommitOf, type ChannelConfig, channelIdOf } from "@verity/core";

export type ChannelState = "opening" | "open" | "closed";

export type StoredChannel = {
  channelId: `0x${string}`;
  agentId: bigint;
  modelId: bigint;
  payer: `0x${string}`;
  authorizer: `0x${string}`;
  token: `0x${string}`;
  withdrawDelay: bigint;
  salt: `0x${string}`;
  /** Who signs the channel's receipts (part of its terms); null for channels of older contracts. */
  receiverSigner: `0x${string}` | null;
  state: ChannelState;
  deposit: bigint;
  /** Charged total proven by verified receipts. */
  charged: bigint;
  /** Highest voucher amount ever signed on this channel. */
  highestSigned: bigint;
  /** Sum of the ceilings of open reservations (live and orphaned). */
  pending: bigint;
  /** Unix seconds when a withdrawal can be finalized; null when none was initiated. */
  withdrawableAt: number | null;
  /** Refund received at `finalizeWithdraw`. */
  refund: bigint | null;
  openedAt: number;
};

export type Reservation = {
  id: string;
  channelId: `0x${string}`;
  ceiling: bigint;
  voucherAmount: bigint;
  /** The channel's charged total when the voucher was signed. */
  chargedAtSign: bigint;
  status: "live" | "orphaned";
  createdAt: number;
};

type ChannelRow = {
  channel_id: string;
  agent_id: string;
  model_id: string;
  payer: string;
  authorizer: string;
  token: string;
  withdraw_delay: string;
  salt: string;
  receiver_signer: string | null;
  state: string;
  deposit: string;
  charged: string;
  highest_signed: string;
  withdrawable_at: number | null;
  refund: string | null;
  opened_at: number;
  pending: string | null;
};

type ReservationRow = {
  id: string;
  channel_id: string;
  ceiling: string;
  voucher_amount: string;
  charged_at_sign: string;
  status: string;
  created_at: number;
};

const hex = (v: string) => v as `0x${string}`;
const newSecret = (): `0x${string}` => `0x${randomBytes(32).toString("hex")}`;
const max = (a: bigint, b: bigint) => (a > b ? a : b);

function toChannel(row: ChannelRow, pending: bigint): StoredChannel {
  return {
    channelId: hex(row.channel_id),
    agentId: BigInt(row.agent_id),
    modelId: BigInt(row.model_id),
    payer: hex(row.payer),
    authorizer: hex(row.authorizer),
    token: hex(row.token),
    withdrawDelay: BigInt(row.withdraw_delay),
    salt: hex(row.salt),
    receiverSigner: row.receiver_signer === null ? null : hex(row.receiver_signer),
    state: row.state as ChannelState,
    deposit: BigInt(row.deposit),
    charged: BigInt(row.charged),
    highestSigned: BigInt(row.highest_signed),
    pending,
    withdrawableAt: row.withdrawable_at,
    refund: row.refund === null ? null : BigInt(row.refund),
    openedAt: row.opened_at,
  };
}

/** The terms of a stored channel, which every PaymentChannels call about it passes. */
export function channelConfigOf(channel: StoredChannel): ChannelConfig {
  if (channel.receiverSigner === null) {
    throw new Error(`channel ${channel.channelId} was opened on an older PaymentChannels (no receipt signer stored)`);
  }
  return {
    payer: channel.payer,
    payerAuthorizer: channel.authorizer,
    receiverAgentId: channel.agentId,
    modelId: channel.modelId,
    token: channel.token,
    withdrawDelay: channel.withdrawDelay,
    salt: channel.salt,
    receiverSigner: channel.receiverSigner,
  };
}

function toReservation(row: ReservationRow): Reservation {
  return {
    id: row.id,
    channelId: hex(row.channel_id),
    ceiling: BigInt(row.ceiling),
    voucherAmount: BigInt(row.voucher_amount),
    chargedAtSign: BigInt(row.charged_at_sign),
    status: row.status as Reservation["status"],
    createdAt: row.created_at,
  };
}

export function createChannelStore(db: DatabaseSync, options: { orphanGraceMs?: number; now?: () => number } = {}) {
  const now = options.now ?? Date.now;
  // Commits land at once (safe against kill -9); `durable()` flushes them to disk in groups.
  const group = createGroupCommit({ db, path: db.location() ?? ":memory:" });
  const orphanGraceMs = options.orphanGraceMs ?? 60_000;

  function reservationsOf(channelId: string): Reservation[] {
    const rows = db
      .prepare("SELECT * FROM reservations WHERE channel_id = ? ORDER BY created_at")
      .all(channelId.toLowerCase()) as ReservationRow[];
    return rows.map(toReservation);
  }
  const pendingOf = (channelId: string) => reservationsOf(channelId).reduce((sum, r) => sum + r.ceiling, 0n);

  function get(channelId: string): StoredChannel | undefined {
    const row = db.prepare("SELECT * FROM channels WHERE channel_id = ?").get(channelId.toLowerCase()) as
      | ChannelRow
      | undefined;
    return row ? toChannel(row, pendingOf(row.channel_id)) : undefined;
  }

  function reservation(id: string): Reservation | undefined {
    const row = db.prepare("SELECT * FROM reservations WHERE id = ?").get(id) as ReservationRow | undefined;
    return row ? toReservation(row) : undefined;
  }

  function update(channelId: string, fields: Record<string, string | number | null>): void {
    const keys = Object.keys(fields);
    db.prepare(
      `UPDATE channels SET ${keys.map((k) => `${k} = ?`).join(", ")}, updated_at = ? WHERE channel_id = ?`,
    ).run(...keys.map((k) => fields[k] ?? null), now(), channelId.toLowerCase());
  }

  /** Voucher amount for a new `ceiling` on `channel`, given the pending ceilings of the others. */
  function amountFor(channel: StoredChannel, othersPending: bigint, ceiling: bigint): bigint {
    const needed = channel.charged + othersPending + ceiling;
    return needed > channel.highestSigned ? needed : channel.highestSigned + 1n;
  }

  /** Makes `secret` the channel's current audit secret and keeps it, by its commitment, for later reveals. */
  function installSecret(channelId: string, secret: `0x${string}`): void {
    db.prepare(
      "INSERT OR IGNORE INTO audit_secrets (audit_commit, channel_id, secret, created_at) VALUES (?, ?, ?, ?)",
    ).run(auditCommitOf(secret), channelId, secret, now());
    update(channelId, { audit_secret: secret });
  }

  /**
   * The channel's current audit secret, created (and committed) on first use; callers wait for
   * `durable()` before anything derived from it leaves the process.
   */
  function auditSecret(channelId: string): `0x${string}` | undefined {
    return inTransaction(db, () => currentSecret(channelId.toLowerCase()));
  }
  /** `auditSecret` inside a caller's transaction. */
  function currentSecret(id: string): `0x${string}` | undefined {
    const row = db.prepare("SELECT audit_secret FROM channels WHERE channel_id = ?").get(id) as
      | { audit_secret: string | null }
      | undefined;
    if (!row) return undefined;
    if (row.audit_secret) return hex(row.audit_secret);
    const secret = newSecret();
    installSecret(id, secret);
    return secret;
  }

  return {
    get,
    reservation,
    auditSecret,
    /** The secret (of any channel, current or retired) whose commitment is `auditCommit`. */
    auditSecretFor(auditCommit: string): { channelId: `0x${string}`; secret: `0x${string}` } | undefined {
      const row = db
        .prepare("SELECT channel_id, secret FROM audit_secrets WHERE audit_commit = ?")
        .get(auditCommit.toLowerCase()) as { channel_id: string; secret: string } | undefined;
      return row ? { channelId: hex(row.channel_id), secret: hex(row.secret) } : undefined;
    },
    /**
     * Retires the channel's current secret if it is the one committed as `auditCommit` (a receipt
     * under it was selected, so the secret is about to be revealed): later requests commit to a
     * fresh one, so whoever sees the reveal cannot predict the channel's later draws.
     */
    rotateAuditSecret(channelId: string, auditCommit: string): boolean {
      return inTransaction(db, () => {
        const current = currentSecret(channelId.toLowerCase());
        if (!current || auditCommitOf(current) !== auditCommit.toLowerCase()) return false;
        installSecret(channelId.toLowerCase(), newSecret());
        return true;
      });
    },

    /** Channels, optionally filtered (newest last). */
    list(filter: { agentId?: bigint; modelId?: bigint; state?: ChannelState } = {}): StoredChannel[] {
      const rows = db.prepare("SELECT * FROM channels ORDER BY opened_at, channel_id").all() as ChannelRow[];
      return rows
        .filter(
          (r) =>
            (filter.agentId === undefined || BigInt(r.agent_id) === filter.agentId) &&
            (filter.modelId === undefined || BigInt(r.model_id) === filter.modelId) &&
            (filter.state === undefined || r.state === filter.state),
        )
        .map((r) => toChannel(r, pendingOf(r.channel_id)));
    },

    /** Records a channel about to be opened (before the transaction is sent). */
    addOpening(config: ChannelConfig, deposit: bigint): `0x${string}` {
      const channelId = channelIdOf(config);
      db.prepare(
        `INSERT INTO channels (channel_id, agent_id, model_id, payer, authorizer, token, withdraw_delay, salt,
          receiver_signer, state, deposit, opened_at, updated_at, audit_secret)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'opening', ?, ?, ?, ?)`,
      ).run(
        channelId,
        config.receiverAgentId.toString(),
        config.modelId.toString(),
        config.payer.toLowerCase(),
        config.payerAuthorizer.toLowerCase(),
        config.token.toLowerCase(),
        config.withdrawDelay.toString(),
        config.salt,
        config.receiverSigner.toLowerCase(),
        deposit.toString(),
        now(),
        now(),
        null,
      );
      installSecret(channelId, newSecret());
      return channelId;
    },
    markOpen(channelId: string, deposit: bigint): void {
      update(channelId, { state: "open", deposit: deposit.toString() });
    },
    /** Forgets a channel whose opening transaction failed. */
    remove(channelId: string): void {
      db.prepare("DELETE FROM channels WHERE channel_id = ? AND state = 'opening'").run(channelId.toLowerCase());
    },
    setDeposit(channelId: string, deposit: bigint): void {
      update(channelId, { deposit: deposit.toString() });
    },
    setWithdrawableAt(channelId: string, at: number | null): void {
      update(channelId, { withdrawable_at: at });
    },
    markClosed(channelId: string, refund: bigint | null): void {
      update(channelId, { state: "closed", refund: refund === null ? null : refund.toString() });
    },

    /**
     * Reserves `ceiling` on an open, non-withdrawing channel and records the voucher amount to sign
     * as its new highest, in one committed transaction. Undefined when the deposit cannot cover it.
     */
    reserve(channelId: string, ceiling: bigint): Reservation | undefined {
      return inTransaction(db, () => {
        const channel = get(channelId);
        if (channel?.state !== "open" || channel.withdrawableAt !== null) return undefined;
        const amount = amountFor(channel, channel.pending, ceiling);
        if (amount > channel.deposit) return undefined;
        const r: Reservation = {
          id: randomUUID(),
          channelId: channel.channelId,
          ceiling,
          voucherAmount: amount,
          chargedAtSign: channel.charged,
          status: "live",
          createdAt: now(),
        };
        db.prepare(
          `INSERT INTO reservations (id, channel_id, ceiling, voucher_amount, charged_at_sign, status, created_at)
           VALUES (?, ?, ?, ?, ?, 'live', ?)`,
        ).run(r.id, r.channelId, ceiling.toString(), amount.toString(), r.chargedAtSign.toString(), r.createdAt);
        update(channelId, { highest_signed: amount.toString() });
        return r;
      });
    },

    /** Raises a reservation to a larger ceiling (a provider asked for more); undefined if the deposit cannot cover it. */
    resize(id: string, ceiling: bigint): Reservation | undefined {
      return inTransaction(db, () => {
        const r = reservation(id);
        const channel = r ? get(r.channelId) : undefined;
        if (!r || !channel) return undefined;
        const amount = amountFor(channel, channel.pending - r.ceiling, ceiling);
        if (amount > channel.deposit) return undefined;
        db.prepare("UPDATE reservations SET ceiling = ?, voucher_amount = ?, charged_at_sign = ? WHERE id = ?").run(
          ceiling.toString(),
          amount.toString(),
          channel.charged.toString(),
          id,
        );
        update(r.channelId, { highest_signed: amount.toString() });
        return { ...r, ceiling, voucherAmount: amount, chargedAtSign: channel.charged };
      });
    },

    /**
     * What a receipt for reservation `id` may show: its cumulative total must lie in
     * `[chargedAtSign + charge, chargedAtSign + charge + extra]` and never above `highestSigned`,
     * where `extra` is what other requests on the channel can explain — charges settled since this
     * voucher was signed plus the ceilings of every other open reservation.
     */
    allowance(id: string): { chargedAtSign: bigint; extra: bigint; highestSigned: bigint } | undefined {
      const r = reservation(id);
      const channel = r ? get(r.channelId) : undefined;
      if (!r || !channel) return undefined;
      const others = channel.pending - r.ceiling;
      const settledSince = channel.charged > r.chargedAtSign ? channel.charged - r.chargedAtSign : 0n;
      return { chargedAtSign: r.chargedAtSign, extra: settledSince + others, highestSigned: channel.highestSigned };
    },

    /** A verified receipt: the charged total becomes at least `cumulative`; old orphans are dropped. */
    settle(id: string, cumulative: bigint): void {
      inTransaction(db, () => {
        const r = reservation(id);
        const channel = r ? get(r.channelId) : undefined;
        if (!r || !channel) return;
        update(r.channelId, { charged: max(channel.charged, cumulative).toString() });
        db.prepare("DELETE FROM reservations WHERE id = ?").run(id);
        db.prepare(
          "DELETE FROM reservations WHERE channel_id = ? AND status = 'orphaned' AND created_at <= ? AND created_at <= ?",
        ).run(r.channelId, r.createdAt, now() - orphanGraceMs);
      });
    },
    /** The provider refused or failed the request before charging: the reservation is given back. */
    release(id: string): void {
      db.prepare("DELETE FROM reservations WHERE id = ?").run(id);
    },
    /** The outcome is unknown (connection lost, stream abandoned, receipt refused): keep counting it. */
    orphan(id: string): void {
      db.prepare("UPDATE reservations SET status = 'orphaned' WHERE id = ?").run(id);
    },
    /** At start: every reservation left `live` by a previous process is orphaned. */
    orphanLive(): number {
      return Number(db.prepare("UPDATE reservations SET status = 'orphaned' WHERE status = 'live'").run().changes);
    },
    reservationsOf,
    /**
     * Resolves once every change committed so far is on disk (one flush for all callers waiting at
     * the same time): a voucher is sent only after its reservation is durable.
     */
    durable: (): Promise<void> => group.durable(),
  };
}

export type ChannelStore = ReturnType<typeof createChannelStore>;
