-- The gateway's tables as of the first Postgres release, translated from its SQLite schema.
-- Token amounts: NUMERIC(78,0) (any uint256); times: BIGINT milliseconds since the epoch;
-- addresses, hashes and on-chain ids: lowercase TEXT as the gateway writes them.

-- API keys (only the key's sha256 is kept) and prepaid balances.
CREATE TABLE api_keys (
  key_hash TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  label TEXT,
  created_at BIGINT NOT NULL
);
CREATE INDEX api_keys_owner ON api_keys (owner);

CREATE TABLE balances (
  owner TEXT PRIMARY KEY,
  balance NUMERIC(78, 0) NOT NULL CHECK (balance >= 0)
);

-- A request's maximum charge, held from the balance until it settles.
CREATE TABLE holds (
  id BIGSERIAL PRIMARY KEY,
  owner TEXT NOT NULL,
  amount NUMERIC(78, 0) NOT NULL CHECK (amount >= 0),
  created_at BIGINT NOT NULL
);

-- Every balance change; (reason, ref) makes a deposit, charge or refund count once.
CREATE TABLE ledger (
  id BIGSERIAL PRIMARY KEY,
  owner TEXT NOT NULL,
  delta NUMERIC(78, 0) NOT NULL,
  reason TEXT NOT NULL,
  ref TEXT,
  created_at BIGINT NOT NULL,
  UNIQUE (reason, ref)
);
CREATE INDEX ledger_owner ON ledger (owner, id);

-- The last block whose deposits were credited (one row).
CREATE TABLE deposit_cursor (
  id SMALLINT PRIMARY KEY CHECK (id = 1),
  block BIGINT NOT NULL
);

-- Each verified provider receipt, with the customer it was bought for and what that customer was billed.
-- seq keeps arrival order (SQLite's rowid): a failed-over request's bill is split in that order.
CREATE TABLE paid_requests (
  request_id TEXT PRIMARY KEY,
  seq BIGSERIAL NOT NULL UNIQUE,
  scope_id TEXT NOT NULL,
  channel_id TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  provider_charge NUMERIC(78, 0) NOT NULL,
  cumulative_charged NUMERIC(78, 0) NOT NULL,
  customer_kind TEXT,
  customer TEXT,
  billed NUMERIC(78, 0),
  created_at BIGINT NOT NULL
);
CREATE INDEX paid_requests_scope ON paid_requests (scope_id, seq);

-- Refunds of guilty verdicts passed on to the customer who paid for the request.
CREATE TABLE refund_credits (
  dispute_id TEXT PRIMARY KEY,
  request_id TEXT NOT NULL,
  channel_id TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  status TEXT NOT NULL,
  customer_kind TEXT,
  customer TEXT,
  amount NUMERIC(78, 0) NOT NULL,
  refunded NUMERIC(78, 0) NOT NULL,
  tx_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX refund_credits_customer ON refund_credits (customer);

-- x402: one row per EIP-3009 authorization, inserted before any provider is called.
CREATE TABLE x402_authorizations (
  network TEXT NOT NULL,
  token TEXT NOT NULL,
  payer TEXT NOT NULL,
  nonce TEXT NOT NULL,
  state TEXT NOT NULL,
  amount NUMERIC(78, 0) NOT NULL,
  tx_hash TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (network, token, payer, nonce)
);

CREATE TABLE x402_settlements (
  payer TEXT NOT NULL,
  nonce TEXT NOT NULL,
  tx_hash TEXT NOT NULL,
  amount NUMERIC(78, 0) NOT NULL,
  settled_at BIGINT NOT NULL,
  PRIMARY KEY (payer, nonce)
);
