-- Portable user context: each owner's signed context versions with their encrypted blobs. The
-- gateway only stores them: it checks the owner's signature, the chain (version = latest + 1,
-- previous = the latest record's hash) and the blob's content address, and never holds a key.
-- The primary key makes two writers of the same next version race to one winner.
CREATE TABLE context_versions (
  owner TEXT NOT NULL,
  version BIGINT NOT NULL,
  content TEXT NOT NULL,
  previous TEXT NOT NULL,
  record_hash TEXT NOT NULL,
  signature TEXT NOT NULL,
  blob BYTEA NOT NULL,
  size INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (owner, version)
);
