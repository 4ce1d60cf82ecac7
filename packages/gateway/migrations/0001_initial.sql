-- The gateway's tables as of the first Postgres release.
-- Token amounts: NUMERIC(78,0) (any uint256); times: BIGINT milliseconds since the epoch;
-- addresses, hashes and on-chain ids: lowercase TEXT as the gateway writes them.

-- API keys (only the key's sha256 is kept), each minted from a signed sign-in message (`proof`)
-- with the scope it signed; `spent` is what the key has been charged so far.
CREATE TABLE api_keys (
  key_hash TEXT PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  owner TEXT NOT NULL,
  label TEXT,
  spend_limit NUMERIC(78, 0),
  spent NUMERIC(78, 0) NOT NULL DEFAULT 0,
  models TEXT,
  expires_at BIGINT,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT,
  revoked_reason TEXT,
  proof TEXT NOT NULL
);
CREATE INDEX api_keys_owner ON api_keys (owner);

-- Sign-in nonces are stateless (expiry + HMAC under this secret, shared by the replicas); a nonce
-- is recorded here when a key is minted with it, which makes it single-use.
CREATE TABLE key_nonce_secret (
  id SMALLINT PRIMARY KEY CHECK (id = 1),
  secret TEXT NOT NULL
);
CREATE TABLE key_nonces_used (
  nonce TEXT PRIMARY KEY,
  expires_at BIGINT NOT NULL
);

-- A balance may go below zero only when a deposit already spent is reorganized away; holds check it.
CREATE TABLE balances (
  owner TEXT PRIMARY KEY,
  balance NUMERIC(78, 0) NOT NULL
);

-- A request's maximum charge, held from the balance until it settles; `key_id` is the API key that
-- asked, `replica` the gateway process that made it (only it, or a timeout, releases it after a crash).
CREATE TABLE holds (
  id BIGSERIAL PRIMARY KEY,
  owner TEXT NOT NULL,
  amount NUMERIC(78, 0) NOT NULL CHECK (amount >= 0),
  key_id TEXT,
  replica TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX holds_key ON holds (key_id);

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

-- The deposit watcher, per gateway address: the last scanned block and its hash (only advances,
-- except when a reorg rewinds it), the hashes of blocks it relies on to find a reorg's common
-- ancestor, and the credited deposits with the block they were seen in.
CREATE TABLE deposit_scan (
  gateway TEXT PRIMARY KEY,
  block BIGINT NOT NULL,
  hash TEXT
);

CREATE TABLE deposit_blocks (
  gateway TEXT NOT NULL,
  block BIGINT NOT NULL,
  hash TEXT NOT NULL,
  PRIMARY KEY (gateway, block)
);

CREATE TABLE deposit_credits (
  ref TEXT PRIMARY KEY,
  gateway TEXT NOT NULL,
  account TEXT NOT NULL,
  amount NUMERIC(78, 0) NOT NULL,
  block BIGINT NOT NULL,
  block_hash TEXT NOT NULL
);
CREATE INDEX deposit_credits_block ON deposit_credits (gateway, block);

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
