-- x402 batch-settlement: the gateway's record of each payment channel paid into it (the latest
-- voucher, what was charged against it, the request holding it). Money: written in the same
-- statement that decides a charge, before the answer is released.
CREATE TABLE x402_batch_channels (
  channel_id TEXT PRIMARY KEY,
  payer TEXT NOT NULL,
  record JSONB NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX x402_batch_channels_payer ON x402_batch_channels (payer);
