import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { type DisputeProjection, disputesFromEvents } from "@verity/chain";

type Row = Record<string, SQLInputValue>;

/** Tag Disputes writes its verdicts under in the Validation and Reputation registries. */
const DISPUTE_TAG = "verity-dispute";

const big = (v: unknown): bigint => BigInt(String(v ?? "0"));
const sum = (rows: Row[], key: string): bigint => rows.reduce((s, r) => s + big(r[key]), 0n);

function all(db: DatabaseSync, sql: string, ...params: SQLInputValue[]): Row[] {
  return db.prepare(sql).all(...params) as Row[];
}

/** Settlement and escrow totals of the deployment, in payment-token base units. */
export function networkTotals(db: DatabaseSync) {
  const claims = all(db, "SELECT increase, provider_amount, royalty_amount, fee_amount FROM claims");
  const stakes = all(db, "SELECT bonded, unbonding, slashed FROM stakes");
  const open = all(db, "SELECT deposit, claimed FROM channels WHERE finalized = 0");
  const refunds = all(db, "SELECT refund FROM channels WHERE finalized = 1 AND refund IS NOT NULL");
  return {
    totalPaid: sum(claims, "increase").toString(),
    claims: claims.length,
    providerEarnings: sum(claims, "provider_amount").toString(),
    royaltiesPaid: sum(claims, "royalty_amount").toString(),
    protocolFees: sum(claims, "fee_amount").toString(),
    stakeLocked: (sum(stakes, "bonded") + sum(stakes, "unbonding")).toString(),
    slashed: sum(stakes, "slashed").toString(),
    openChannels: open.length,
    escrow: open.reduce((s, r) => s + big(r.deposit) - big(r.claimed), 0n).toString(),
    channelRefunds: sum(refunds, "refund").toString(),
  };
}

/** Reputation feedback per agent (revoked entries left out): count and mean value. */
function reputations(db: DatabaseSync): Map<string, { count: number; average: number }> {
  const revoked = new Set(
    all(db, "SELECT args FROM events WHERE name = 'FeedbackRevoked'").map((r) => {
      const a = JSON.parse(String(r.args)) as Record<string, string>;
      return `${a.agentId}:${String(a.clientAddress).toLowerCase()}:${a.feedbackIndex}`;
    }),
  );
  const out = new Map<string, { count: number; total: number }>();
  for (const r of all(db, "SELECT args FROM events WHERE name = 'NewFeedback' ORDER BY block, log_index")) {
    const a = JSON.parse(String(r.args)) as Record<string, string | number>;
    if (revoked.has(`${a.agentId}:${String(a.clientAddress).toLowerCase()}:${a.feedbackIndex}`)) continue;
    const id = String(a.agentId);
    const entry = out.get(id) ?? { count: 0, total: 0 };
    entry.count++;
    entry.total += Number(a.value) / 10 ** Number(a.valueDecimals ?? 0);
    out.set(id, entry);
  }
  return new Map([...out].map(([id, e]) => [id, { count: e.count, average: e.total / e.count }]));
}

/** Validation answers per agent (the latest per request), outside dispute verdicts: passed ≥ 50. */
function validations(db: DatabaseSync): Map<string, { passed: number; failed: number }> {
  const latest = new Map<string, { agentId: string; response: number }>();
  for (const r of all(db, "SELECT args FROM events WHERE name = 'ValidationResponse' ORDER BY block, log_index")) {
    const a = JSON.parse(String(r.args)) as Record<string, string | number>;
    if (a.tag === DISPUTE_TAG) continue;
    latest.set(String(a.requestHash), { agentId: String(a.agentId), response: Number(a.response) });
  }
  const out = new Map<string, { passed: number; failed: number }>();
  for (const v of latest.values()) {
    const entry = out.get(v.agentId) ?? { passed: 0, failed: 0 };
    if (v.response >= 50) entry.passed++;
    else entry.failed++;
    out.set(v.agentId, entry);
  }
  return out;
}

export type ProviderRow = {
  agentId: string;
  owner: string;
  uri: string;
  wallet: string | null;
  stake: string;
  unbonding: string;
  slashed: string;
  paused: boolean;
  earnings: string;
  claims: number;
  settledVolume: string;
  slashes: number;
  reputation: { count: number; average: number } | null;
  audits: { passed: number; failed: number };
  disputes: { open: number; guilty: number; notGuilty: number };
};

/** Staked agents (providers) with what the chain says about them. */
export function providerRows(db: DatabaseSync, disputes: DisputeProjection[]): ProviderRow[] {
  const agents = all(
    db,
    `SELECT a.agent_id, a.owner, a.uri, a.wallet, s.bonded, s.unbonding, s.slashed, s.paused
     FROM agents a JOIN stakes s ON s.agent_id = a.agent_id ORDER BY CAST(a.agent_id AS INTEGER)`,
  );
  const claims = new Map<string, Row[]>();
  for (const r of all(db, "SELECT receiver_agent_id AS id, increase, provider_amount FROM claims")) {
    const list = claims.get(String(r.id)) ?? [];
    list.push(r);
    claims.set(String(r.id), list);
  }
  const slashes = new Map(
    all(db, "SELECT agent_id AS id, COUNT(*) AS n FROM slashes GROUP BY agent_id").map((r) => [String(r.id), r.n]),
  );
  const rep = reputations(db);
  const val = validations(db);
  return agents.map((a) => {
    const id = String(a.agent_id);
    const own = claims.get(id) ?? [];
    const mine = disputes.filter((d) => d.agentId === id);
    const verdicts = {
      open: mine.filter((d) => d.status === "open").length,
      guilty: mine.filter((d) => d.status === "guilty").length,
      notGuilty: mine.filter((d) => d.status === "notGuilty").length,
    };
    const v = val.get(id) ?? { passed: 0, failed: 0 };
    return {
      agentId: id,
      owner: String(a.owner),
      uri: String(a.uri),
      wallet: a.wallet === null ? null : String(a.wallet),
      stake: String(a.bonded ?? "0"),
      unbonding: String(a.unbonding ?? "0"),
      slashed: String(a.slashed ?? "0"),
      paused: a.paused === 1,
      earnings: sum(own, "provider_amount").toString(),
      claims: own.length,
      settledVolume: sum(own, "increase").toString(),
      slashes: Number(slashes.get(id) ?? 0),
      reputation: rep.get(id) ?? null,
      audits: { passed: v.passed + verdicts.notGuilty, failed: v.failed + verdicts.guilty },
      disputes: verdicts,
    };
  });
}

export type OfferRow = {
  offerId: string;
  agentId: string;
  modelId: string;
  model: string;
  inputPricePerMTok: string;
  outputPricePerMTok: string;
  maxOutputTokens: number;
  endpoint: string;
};

/** Active offers as published on chain (paused or unstaked agents included; the directory filters those). */
export function offerRows(db: DatabaseSync): OfferRow[] {
  return all(
    db,
    `SELECT o.offer_id, o.agent_id, o.model_id, m.name, o.input_price_per_mtok, o.output_price_per_mtok,
            o.max_output_tokens, o.endpoint
     FROM offers o LEFT JOIN models m ON m.model_id = o.model_id WHERE o.active = 1
     ORDER BY CAST(o.offer_id AS INTEGER)`,
  ).map((r) => ({
    offerId: String(r.offer_id),
    agentId: String(r.agent_id),
    modelId: String(r.model_id),
    model: r.name === null ? `model-${r.model_id}` : String(r.name),
    inputPricePerMTok: String(r.input_price_per_mtok),
    outputPricePerMTok: String(r.output_price_per_mtok),
    maxOutputTokens: Number(r.max_output_tokens),
    endpoint: String(r.endpoint),
  }));
}

/** Registered models with their settled volume (claims on channels opened for them). */
export function modelRows(db: DatabaseSync) {
  const volume = new Map<string, { volume: bigint; royalties: bigint }>();
  for (const r of all(
    db,
    `SELECT ch.model_id AS id, c.increase, c.royalty_amount FROM claims c JOIN channels ch ON ch.channel_id = c.channel_id`,
  )) {
    const entry = volume.get(String(r.id)) ?? { volume: 0n, royalties: 0n };
    entry.volume += big(r.increase);
    entry.royalties += big(r.royalty_amount);
    volume.set(String(r.id), entry);
  }
  return all(
    db,
    "SELECT model_id, owner, royalty_bps, licence_uri, name, weights_hash FROM models ORDER BY CAST(model_id AS INTEGER)",
  ).map((m) => ({
    modelId: String(m.model_id),
    name: String(m.name),
    owner: String(m.owner),
    royaltyBps: Number(m.royalty_bps),
    licenceURI: String(m.licence_uri),
    weightsHash: String(m.weights_hash),
    settledVolume: (volume.get(String(m.model_id))?.volume ?? 0n).toString(),
    royaltiesPaid: (volume.get(String(m.model_id))?.royalties ?? 0n).toString(),
  }));
}

/** One stored protocol event (the indexer's `events` row, args decoded; amounts are decimal strings). */
export type FeedEvent = {
  block: number;
  log_index: number;
  tx_hash: string;
  timestamp: number;
  contract: string;
  name: string;
  args: Record<string, unknown>;
};

/**
 * Recent protocol events, newest first: optionally only some names, one agent's (by `agentId` or
 * `receiverAgentId` in the event), or one transaction's.
 */
export function feedEvents(
  db: DatabaseSync,
  filter: { limit: number; names?: string[]; agentId?: string; txHash?: string },
): FeedEvent[] {
  const where: string[] = [];
  const params: SQLInputValue[] = [];
  if (filter.names && filter.names.length > 0) {
    where.push(`name IN (${filter.names.map(() => "?").join(", ")})`);
    params.push(...filter.names);
  }
  if (filter.agentId !== undefined) {
    where.push("(json_extract(args, '$.agentId') = ? OR json_extract(args, '$.receiverAgentId') = ?)");
    params.push(filter.agentId, filter.agentId);
  }
  if (filter.txHash !== undefined) {
    where.push("tx_hash = ?");
    params.push(filter.txHash);
  }
  const rows = all(
    db,
    `SELECT block, log_index, tx_hash, timestamp, contract, name, args FROM events
     ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY block DESC, log_index DESC LIMIT ?`,
    ...params,
    filter.limit,
  );
  return rows.map((r) => ({
    block: Number(r.block),
    log_index: Number(r.log_index),
    tx_hash: String(r.tx_hash),
    timestamp: Number(r.timestamp),
    contract: String(r.contract),
    name: String(r.name),
    args: JSON.parse(String(r.args)) as Record<string, unknown>,
  }));
}

/**
 * Channels paying one agent, newest first. `payerAgentId` is set when the payer is itself a
 * registered agent (its owner or agent wallet): agent-to-agent traffic.
 */
export function channelsOf(db: DatabaseSync, agentId: string, limit: number) {
  return all(
    db,
    `SELECT c.channel_id, c.payer, c.model_id, c.deposit, c.claimed, c.finalized, c.withdrawable_at, c.opened_block,
       (SELECT MIN(CAST(a.agent_id AS INTEGER)) FROM agents a
         WHERE lower(a.owner) = lower(c.payer) OR lower(coalesce(a.wallet, '')) = lower(c.payer)) AS payer_agent_id
     FROM channels c WHERE c.receiver_agent_id = ? ORDER BY c.opened_block DESC LIMIT ?`,
    agentId,
    limit,
  ).map((r) => ({
    channelId: String(r.channel_id),
    payer: String(r.payer),
    modelId: String(r.model_id),
    deposit: String(r.deposit),
    claimed: String(r.claimed),
    finalized: r.finalized === 1,
    withdrawing: r.withdrawable_at !== null && r.finalized !== 1,
    openedBlock: Number(r.opened_block),
    ...(r.payer_agent_id === null || r.payer_agent_id === undefined ? {} : { payerAgentId: String(r.payer_agent_id) }),
  }));
}

export type ValidatorRow = {
  validator: string;
  agentId: string;
  bond: string;
  active: boolean;
  votes: number;
  rewarded: string;
  penalized: string;
};

/** The validator set folded from Disputes' events: bond (with rewards and penalties), votes revealed. */
export function validatorRows(db: DatabaseSync): ValidatorRow[] {
  const rows = all(
    db,
    `SELECT name, args FROM events WHERE contract = 'Disputes' AND name IN
     ('ValidatorRegistered', 'ValidatorDeregistered', 'VoterRewarded', 'VoterPenalized', 'VoteRevealed')
     ORDER BY block, log_index`,
  );
  const byAddress = new Map<string, ValidatorRow>();
  for (const r of rows) {
    const a = JSON.parse(String(r.args)) as Record<string, string>;
    const address = String(a.validator ?? a.voter).toLowerCase();
    if (r.name === "ValidatorRegistered") {
      byAddress.set(address, {
        validator: address,
        agentId: String(a.agentId),
        bond: String(a.bond),
        active: true,
        votes: byAddress.get(address)?.votes ?? 0,
        rewarded: "0",
        penalized: "0",
      });
      continue;
    }
    const v = byAddress.get(address);
    if (!v) continue;
    if (r.name === "ValidatorDeregistered") {
      v.active = false;
      v.bond = "0";
    } else if (r.name === "VoterRewarded") {
      v.bond = (big(v.bond) + big(a.amount)).toString();
      v.rewarded = (big(v.rewarded) + big(a.amount)).toString();
    } else if (r.name === "VoterPenalized") {
      v.bond = (big(v.bond) - big(a.amount)).toString();
      v.penalized = (big(v.penalized) + big(a.amount)).toString();
    } else v.votes++;
  }
  return [...byAddress.values()];
}

export { disputesFromEvents };
