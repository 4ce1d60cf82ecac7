import type { DatabaseSync, SQLInputValue } from "node:sqlite";

/** One decoded log as the indexer stores it. */
export type IndexedEvent = {
  block: number;
  logIndex: number;
  txHash: string;
  timestamp: number;
  contract: string;
  name: string;
  args: Record<string, unknown>;
};

const s = (v: unknown): string => (typeof v === "string" ? v.toLowerCase() : String(v));
const add = (a: unknown, b: unknown): string => (BigInt(String(a ?? 0)) + BigInt(String(b ?? 0))).toString();
const sub = (a: unknown, b: unknown): string => {
  const r = BigInt(String(a ?? 0)) - BigInt(String(b ?? 0));
  return (r < 0n ? 0n : r).toString();
};

function run(db: DatabaseSync, sql: string, ...params: SQLInputValue[]): void {
  db.prepare(sql).run(...params);
}
function get(db: DatabaseSync, sql: string, ...params: SQLInputValue[]): Record<string, SQLInputValue> | undefined {
  return db.prepare(sql).get(...params) as Record<string, SQLInputValue> | undefined;
}

function stakeRow(db: DatabaseSync, agentId: string) {
  run(db, "INSERT OR IGNORE INTO stakes (agent_id) VALUES (?)", agentId);
  return get(db, "SELECT bonded, unbonding, slashed FROM stakes WHERE agent_id = ?", agentId) as {
    bonded: string;
    unbonding: string;
    slashed: string;
  };
}

type Projection = (db: DatabaseSync, e: IndexedEvent, a: Record<string, unknown>) => void;

/** How each contract event changes the projection tables. Events not listed are only kept in `events`. */
export const PROJECTIONS: Record<string, Projection> = {
  Registered: (db, e, a) =>
    run(
      db,
      "INSERT OR REPLACE INTO agents (agent_id, owner, uri, wallet, registered_block) VALUES (?, ?, ?, NULL, ?)",
      s(a.agentId),
      s(a.owner),
      String(a.agentURI ?? ""),
      e.block,
    ),
  URIUpdated: (db, _e, a) => run(db, "UPDATE agents SET uri = ? WHERE agent_id = ?", String(a.newURI), s(a.agentId)),
  AgentWalletSet: (db, _e, a) => run(db, "UPDATE agents SET wallet = ? WHERE agent_id = ?", s(a.wallet), s(a.agentId)),
  AgentWalletUnset: (db, _e, a) => run(db, "UPDATE agents SET wallet = NULL WHERE agent_id = ?", s(a.agentId)),
  Transfer: (db, e, a) => {
    if (e.contract === "AgentRegistry" && a.tokenId !== undefined && a.to !== undefined) {
      run(db, "UPDATE agents SET owner = ? WHERE agent_id = ?", s(a.to), s(a.tokenId));
    }
  },
  ModelRegistered: (db, e, a) =>
    run(
      db,
      `INSERT OR REPLACE INTO models (model_id, owner, weights_hash, tokenizer_hash, royalty_bps, licence_uri, name, registered_block)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      s(a.modelId),
      s(a.owner),
      s(a.weightsHash),
      s(a.tokenizerHash),
      Number(a.royaltyBps),
      String(a.licenceURI),
      String(a.name),
      e.block,
    ),
  ModelTransferred: (db, _e, a) =>
    run(db, "UPDATE models SET owner = ? WHERE model_id = ?", s(a.newOwner), s(a.modelId)),
  RoyaltyLowered: (db, _e, a) =>
    run(db, "UPDATE models SET royalty_bps = ? WHERE model_id = ?", Number(a.newBps), s(a.modelId)),
  ChannelOpened: (db, e, a) =>
    run(
      db,
      `INSERT OR REPLACE INTO channels (channel_id, payer, payer_authorizer, receiver_agent_id, model_id, token,
        withdraw_delay, salt, deposit, receiver_signer, opened_block, updated_block)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      s(a.channelId),
      s(a.payer),
      s(a.payerAuthorizer),
      s(a.receiverAgentId),
      s(a.modelId),
      s(a.token),
      Number(a.withdrawDelay),
      s(a.salt),
      s(a.amount),
      a.receiverSigner === undefined ? null : s(a.receiverSigner),
      e.block,
      e.block,
    ),
  ChannelToppedUp: (db, e, a) =>
    run(
      db,
      "UPDATE channels SET deposit = ?, updated_block = ? WHERE channel_id = ?",
      s(a.deposit),
      e.block,
      s(a.channelId),
    ),
  Claimed: (db, e, a) => {
    run(
      db,
      "UPDATE channels SET claimed = ?, last_claimed_at = ?, updated_block = ? WHERE channel_id = ?",
      s(a.cumulativeAmount),
      e.timestamp,
      e.block,
      s(a.channelId),
    );
    run(
      db,
      `INSERT OR REPLACE INTO claims (block, log_index, tx_hash, channel_id, receiver_agent_id, cumulative_amount,
        increase, provider_amount, royalty_amount, fee_amount, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      e.block,
      e.logIndex,
      e.txHash,
      s(a.channelId),
      s(a.receiverAgentId),
      s(a.cumulativeAmount),
      s(a.increase),
      s(a.providerAmount),
      s(a.royaltyAmount),
      s(a.feeAmount),
      e.timestamp,
    );
  },
  WithdrawInitiated: (db, e, a) =>
    run(
      db,
      "UPDATE channels SET withdrawable_at = ?, updated_block = ? WHERE channel_id = ?",
      Number(a.withdrawableAt),
      e.block,
      s(a.channelId),
    ),
  WithdrawCancelled: (db, e, a) =>
    run(
      db,
      "UPDATE channels SET withdrawable_at = NULL, updated_block = ? WHERE channel_id = ?",
      e.block,
      s(a.channelId),
    ),
  WithdrawFinalized: (db, e, a) =>
    run(
      db,
      "UPDATE channels SET finalized = 1, refund = ?, updated_block = ? WHERE channel_id = ?",
      s(a.refund),
      e.block,
      s(a.channelId),
    ),
  Staked: (db, _e, a) => {
    stakeRow(db, s(a.agentId));
    run(db, "UPDATE stakes SET bonded = ? WHERE agent_id = ?", s(a.bonded), s(a.agentId));
  },
  UnbondRequested: (db, _e, a) => {
    const row = stakeRow(db, s(a.agentId));
    run(
      db,
      "UPDATE stakes SET bonded = ?, unbonding = ? WHERE agent_id = ?",
      sub(row.bonded, a.amount),
      add(row.unbonding, a.amount),
      s(a.agentId),
    );
  },
  Withdrawn: (db, _e, a) => {
    const row = stakeRow(db, s(a.agentId));
    run(db, "UPDATE stakes SET unbonding = ? WHERE agent_id = ?", sub(row.unbonding, a.amount), s(a.agentId));
  },
  Slashed: (db, e, a) => {
    const row = stakeRow(db, s(a.agentId));
    run(
      db,
      "UPDATE stakes SET bonded = ?, unbonding = ?, slashed = ? WHERE agent_id = ?",
      sub(row.bonded, a.fromBonded),
      sub(row.unbonding, a.fromUnbonding),
      add(row.slashed, a.amount),
      s(a.agentId),
    );
    const recipients = (a.recipients as string[]).map((to, i) => ({ to, amount: s((a.amounts as unknown[])[i]) }));
    run(
      db,
      `INSERT OR REPLACE INTO slashes (block, log_index, tx_hash, agent_id, amount, recipients, timestamp)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      e.block,
      e.logIndex,
      e.txHash,
      s(a.agentId),
      s(a.amount),
      JSON.stringify(recipients),
      e.timestamp,
    );
  },
  OfferAdded: (db, e, a) =>
    run(
      db,
      `INSERT OR REPLACE INTO offers (offer_id, agent_id, model_id, input_price_per_mtok, output_price_per_mtok,
        max_output_tokens, endpoint, active, updated_block) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)`,
      s(a.offerId),
      s(a.agentId),
      s(a.modelId),
      s(a.inputPricePerMTok),
      s(a.outputPricePerMTok),
      s(a.maxOutputTokens),
      String(a.endpoint),
      e.block,
    ),
  OfferUpdated: (db, e, a) =>
    run(
      db,
      `UPDATE offers SET input_price_per_mtok = ?, output_price_per_mtok = ?, max_output_tokens = ?, endpoint = ?,
        updated_block = ? WHERE offer_id = ?`,
      s(a.inputPricePerMTok),
      s(a.outputPricePerMTok),
      s(a.maxOutputTokens),
      String(a.endpoint),
      e.block,
      s(a.offerId),
    ),
  OfferRemoved: (db, e, a) =>
    run(db, "UPDATE offers SET active = 0, updated_block = ? WHERE offer_id = ?", e.block, s(a.offerId)),
  OffersPaused: (db, _e, a) => {
    stakeRow(db, s(a.agentId));
    run(db, "UPDATE stakes SET paused = 1 WHERE agent_id = ?", s(a.agentId));
  },
  OffersUnpaused: (db, _e, a) => {
    stakeRow(db, s(a.agentId));
    run(db, "UPDATE stakes SET paused = 0 WHERE agent_id = ?", s(a.agentId));
  },
};

/** Applies one event to the projections (inside the caller's transaction). */
export function applyEvent(db: DatabaseSync, event: IndexedEvent): void {
  PROJECTIONS[event.name]?.(db, event, event.args);
}

/** A dispute folded from the Disputes events kept in `events` (see `disputesFromEvents`). */
export type DisputeProjection = {
  disputeId: string;
  agentId: string;
  challenger: string;
  receiptHash: string;
  requestId: string;
  channelId: string;
  charge: string;
  bond: string;
  evidenceURI: string;
  openedBlock: number;
  openedAt: number;
  committee: string[];
  commits: string[];
  reveals: { voter: string; guilty: boolean }[];
  status: "open" | "guilty" | "notGuilty";
  slashed: string;
  refunded: string;
  challengerReward: string;
  treasuryAmount: string;
  bondRecipient: string | null;
  resolvedBlock: number | null;
  resolvedTxHash: string | null;
};

/**
 * The disputes of the deployment (optionally only those against `agentId`), oldest first, folded
 * from the Disputes events (`ChallengeOpened`, `CommitteeDrawn`, `VoteCommitted`, `VoteRevealed`,
 * `DisputeResolved`) the indexer keeps in `events`. Slashes of guilty verdicts are also in `slashes`
 * (Staking's `Slashed`, same transaction as `DisputeResolved`).
 */
export function disputesFromEvents(db: DatabaseSync, agentId?: string | bigint): DisputeProjection[] {
  const rows = db
    .prepare(
      `SELECT block, tx_hash, timestamp, name, args FROM events WHERE contract = 'Disputes' AND name IN
       ('ChallengeOpened', 'CommitteeDrawn', 'VoteCommitted', 'VoteRevealed', 'DisputeResolved')
       ORDER BY block, log_index`,
    )
    .all() as { block: number; tx_hash: string; timestamp: number; name: string; args: string }[];
  const byId = new Map<string, DisputeProjection>();
  for (const row of rows) {
    const a = JSON.parse(row.args) as Record<string, unknown>;
    const id = s(a.disputeId);
    if (row.name === "ChallengeOpened") {
      byId.set(id, {
        disputeId: id,
        agentId: s(a.agentId),
        challenger: s(a.challenger),
        receiptHash: s(a.receiptHash),
        requestId: s(a.requestId),
        channelId: s(a.channelId),
        charge: s(a.charge),
        bond: s(a.bond),
        evidenceURI: String(a.evidenceURI ?? ""),
        openedBlock: row.block,
        openedAt: row.timestamp,
        committee: [],
        commits: [],
        reveals: [],
        status: "open",
        slashed: "0",
        refunded: "0",
        challengerReward: "0",
        treasuryAmount: "0",
        bondRecipient: null,
        resolvedBlock: null,
        resolvedTxHash: null,
      });
      continue;
    }
    const d = byId.get(id);
    if (!d) continue;
    if (row.name === "CommitteeDrawn") d.committee = (a.members as unknown[]).map(s);
    else if (row.name === "VoteCommitted") d.commits.push(s(a.voter));
    else if (row.name === "VoteRevealed") d.reveals.push({ voter: s(a.voter), guilty: a.guilty === true });
    else {
      d.status = a.guilty === true ? "guilty" : "notGuilty";
      d.slashed = s(a.slashed);
      d.refunded = s(a.refunded);
      d.challengerReward = s(a.challengerReward);
      d.treasuryAmount = s(a.treasuryAmount);
      d.bondRecipient = s(a.bondRecipient);
      d.resolvedBlock = row.block;
      d.resolvedTxHash = s(row.tx_hash);
    }
  }
  const all = [...byId.values()];
  return agentId === undefined ? all : all.filter((d) => d.agentId === s(agentId));
}
