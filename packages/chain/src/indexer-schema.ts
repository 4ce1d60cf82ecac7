import type { DatabaseSync } from "node:sqlite";

/** Bump when the projection tables change; the indexer then rebuilds from the deployment's start block. */
export const INDEXER_SCHEMA_VERSION = 3;

/**
 * Tables the indexer maintains. Amounts are stored as decimal TEXT (uint256 does not fit SQLite's
 * integers); `events` keeps every decoded log so projections can be rebuilt and the explorer can
 * show a feed linked to transactions.
 */
export function createIndexerSchema(db: DatabaseSync): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS events (
      block INTEGER NOT NULL, log_index INTEGER NOT NULL, tx_hash TEXT NOT NULL, timestamp INTEGER NOT NULL,
      contract TEXT NOT NULL, name TEXT NOT NULL, args TEXT NOT NULL,
      PRIMARY KEY (block, log_index)
    );
    CREATE INDEX IF NOT EXISTS events_name ON events (name, block);
    CREATE TABLE IF NOT EXISTS agents (
      agent_id TEXT PRIMARY KEY, owner TEXT NOT NULL, uri TEXT NOT NULL, wallet TEXT,
      registered_block INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS models (
      model_id TEXT PRIMARY KEY, owner TEXT NOT NULL, weights_hash TEXT NOT NULL, tokenizer_hash TEXT NOT NULL,
      royalty_bps INTEGER NOT NULL, licence_uri TEXT NOT NULL, name TEXT NOT NULL, registered_block INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS stakes (
      agent_id TEXT PRIMARY KEY, bonded TEXT NOT NULL DEFAULT '0', unbonding TEXT NOT NULL DEFAULT '0',
      slashed TEXT NOT NULL DEFAULT '0', paused INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE IF NOT EXISTS offers (
      offer_id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, model_id TEXT NOT NULL,
      input_price_per_mtok TEXT NOT NULL, output_price_per_mtok TEXT NOT NULL, max_output_tokens TEXT NOT NULL,
      endpoint TEXT NOT NULL, active INTEGER NOT NULL, updated_block INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS offers_model ON offers (model_id, active);
    CREATE TABLE IF NOT EXISTS channels (
      channel_id TEXT PRIMARY KEY, payer TEXT NOT NULL, payer_authorizer TEXT NOT NULL, receiver_agent_id TEXT NOT NULL,
      model_id TEXT NOT NULL, token TEXT NOT NULL, withdraw_delay INTEGER NOT NULL, salt TEXT NOT NULL,
      deposit TEXT NOT NULL, claimed TEXT NOT NULL DEFAULT '0', withdrawable_at INTEGER, receiver_signer TEXT,
      last_claimed_at INTEGER,
      finalized INTEGER NOT NULL DEFAULT 0, refund TEXT, opened_block INTEGER NOT NULL, updated_block INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS channels_receiver ON channels (receiver_agent_id);
    CREATE INDEX IF NOT EXISTS channels_payer ON channels (payer);
    CREATE TABLE IF NOT EXISTS claims (
      block INTEGER NOT NULL, log_index INTEGER NOT NULL, tx_hash TEXT NOT NULL, channel_id TEXT NOT NULL,
      receiver_agent_id TEXT NOT NULL, cumulative_amount TEXT NOT NULL, increase TEXT NOT NULL,
      provider_amount TEXT NOT NULL, royalty_amount TEXT NOT NULL, fee_amount TEXT NOT NULL, timestamp INTEGER NOT NULL,
      PRIMARY KEY (block, log_index)
    );
    CREATE INDEX IF NOT EXISTS claims_receiver ON claims (receiver_agent_id);
    CREATE TABLE IF NOT EXISTS slashes (
      block INTEGER NOT NULL, log_index INTEGER NOT NULL, tx_hash TEXT NOT NULL, agent_id TEXT NOT NULL,
      amount TEXT NOT NULL, recipients TEXT NOT NULL, timestamp INTEGER NOT NULL,
      PRIMARY KEY (block, log_index)
    );
  `);
}

/** Drops every projection (used when the schema version or the deployment changed). */
export function dropIndexerSchema(db: DatabaseSync): void {
  for (const table of ["events", "agents", "models", "stakes", "offers", "channels", "claims", "slashes", "meta"]) {
    db.exec(`DROP TABLE IF EXISTS ${table}`);
  }
}
