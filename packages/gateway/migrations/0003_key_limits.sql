-- Optional limits an API key's owner signed beside its spend limit and models: per-call and
-- per-day spend, requests and tokens per minute, concurrency (JSON of the KeyScope fields).
ALTER TABLE api_keys ADD COLUMN limits TEXT;

-- What each key was charged per UTC day (day = unix days), for the per-day bound. Written in the
-- ledger's settlement transaction; read under the key row's lock when a hold is taken.
CREATE TABLE key_daily_spend (
  key_id TEXT NOT NULL,
  day BIGINT NOT NULL,
  spent NUMERIC(78, 0) NOT NULL,
  PRIMARY KEY (key_id, day)
);
