/**
 * The client's durable state directory: `client.sqlite` (channels, reservations, transcripts,
 * audits, flagged providers, every audit secret a channel has used; WAL + synchronous=FULL through @verity/chain's `openDatabase`),
 * `index.sqlite` (the indexer's projection, when the client runs its own), and the hot
 * voucher-signing key (`authorizer.key`, created once with mode 0600). Each channel's random audit
 * secret (seed derivation and audit draws) is a column of its row in `client.sqlite`.
 */

import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { openDatabase } from "@verity/chain";
import { ConfigError, type Deployment } from "@verity/core";
import type { Hex } from "viem";

/** Bump when a table changes shape (existing state is migrated, never dropped). */
export const CLIENT_SCHEMA_VERSION = 4;

function createSchema(db: DatabaseSync): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS channels (
      channel_id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, model_id TEXT NOT NULL, payer TEXT NOT NULL,
      authorizer TEXT NOT NULL, token TEXT NOT NULL, withdraw_delay TEXT NOT NULL, salt TEXT NOT NULL,
      state TEXT NOT NULL, deposit TEXT NOT NULL, charged TEXT NOT NULL DEFAULT '0',
      highest_signed TEXT NOT NULL DEFAULT '0', withdrawable_at INTEGER, refund TEXT,
      opened_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, receiver_signer TEXT, audit_secret TEXT
    );
    CREATE INDEX IF NOT EXISTS channels_route ON channels (agent_id, model_id, state);
    CREATE TABLE IF NOT EXISTS reservations (
      id TEXT PRIMARY KEY, channel_id TEXT NOT NULL REFERENCES channels (channel_id), ceiling TEXT NOT NULL,
      voucher_amount TEXT NOT NULL, charged_at_sign TEXT NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS reservations_channel ON reservations (channel_id);
    CREATE TABLE IF NOT EXISTS transcripts (
      request_id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, channel_id TEXT NOT NULL, model_id TEXT NOT NULL,
      model TEXT NOT NULL, kind TEXT NOT NULL, request TEXT NOT NULL, output TEXT NOT NULL,
      prompt_token_ids TEXT, output_token_ids TEXT, sampling TEXT, receipt TEXT NOT NULL, signature TEXT NOT NULL,
      signer TEXT NOT NULL, charge TEXT NOT NULL, cumulative_charged TEXT NOT NULL, created_at INTEGER NOT NULL,
      voucher_amount TEXT
    );
    CREATE INDEX IF NOT EXISTS transcripts_created ON transcripts (created_at);
    CREATE TABLE IF NOT EXISTS audits (
      request_id TEXT PRIMARY KEY, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
      last_error TEXT, created_at INTEGER NOT NULL, sent_at INTEGER
    );
    CREATE TABLE IF NOT EXISTS audit_secrets (
      audit_commit TEXT PRIMARY KEY, channel_id TEXT NOT NULL, secret TEXT NOT NULL, created_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS flagged (
      agent_id TEXT PRIMARY KEY, code TEXT NOT NULL, reason TEXT NOT NULL, details TEXT NOT NULL,
      created_at INTEGER NOT NULL
    );
  `);
  migrate(db);
}

/** Brings state written by an older version up to the current shape (columns are only ever added). */
function migrate(db: DatabaseSync): void {
  const columns = db.prepare("PRAGMA table_info(transcripts)").all() as { name: string }[];
  // Version 2: the resolved sampling parameters of a transcript (older rows keep NULL).
  if (!columns.some((c) => c.name === "sampling")) addColumn(db, "ALTER TABLE transcripts ADD COLUMN sampling TEXT");
  // Version 3: the channel's receipt signer, part of its terms (rows of older contracts keep NULL).
  const channelColumns = db.prepare("PRAGMA table_info(channels)").all() as { name: string }[];
  if (!channelColumns.some((c) => c.name === "receiver_signer")) {
    addColumn(db, "ALTER TABLE channels ADD COLUMN receiver_signer TEXT");
  }
  // Version 4: the amount of the voucher that paid a transcript (its seed key's input) and each channel's audit
  // secret (older channels get one on their next request).
  if (!columns.some((c) => c.name === "voucher_amount")) {
    addColumn(db, "ALTER TABLE transcripts ADD COLUMN voucher_amount TEXT");
  }
  if (!channelColumns.some((c) => c.name === "audit_secret")) {
    addColumn(db, "ALTER TABLE channels ADD COLUMN audit_secret TEXT");
  }
}

/** Adds a column; another process that opened the same state dir at the same moment may have added it first. */
function addColumn(db: DatabaseSync, statement: string): void {
  try {
    db.exec(statement);
  } catch (error) {
    if (!/duplicate column name/i.test((error as Error).message)) throw error;
  }
}

/**
 * Opens (creating) `stateDir/client.sqlite` for `deployment`. A state dir that belongs to another
 * chain or PaymentChannels contract is refused (`deployment_mismatch`): its channels and receipts
 * are worth keeping, so nothing is dropped.
 */
export function openClientState(args: { stateDir: string; deployment: Deployment }): DatabaseSync {
  mkdirSync(args.stateDir, { recursive: true, mode: 0o700 });
  const path = join(args.stateDir, "client.sqlite");
  // Group commit: writes commit without waiting for the disk; money-path callers (the channel store)
  // wait for `durable()` before a voucher leaves the process.
  const db = openDatabase(path, { synchronous: "NORMAL" });
  chmodSync(path, 0o600);
  createSchema(db);
  const identity = `${args.deployment.chainId}:${args.deployment.contracts.PaymentChannels.address.toLowerCase()}`;
  const stored = db.prepare("SELECT value FROM meta WHERE key = 'deployment'").get() as { value: string } | undefined;
  if (stored && stored.value !== identity) {
    db.close();
    throw new ConfigError(`The state dir ${args.stateDir} belongs to another deployment (${stored.value})`, {
      code: "deployment_mismatch",
      hint: "Use one state dir per deployment",
      details: { stateDir: args.stateDir, stored: stored.value, expected: identity },
    });
  }
  db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('deployment', ?)").run(identity);
  db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)").run(String(CLIENT_SCHEMA_VERSION));
  return db;
}

/**
 * A 32-byte secret kept in `stateDir/name` (mode 0600), created on first use. Creation uses the
 * exclusive flag, so two processes racing on one state dir end up with the same secret.
 */
export function loadOrCreateSecret(stateDir: string, name: string): Hex {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, name);
  if (!existsSync(path)) {
    try {
      writeFileSync(path, `0x${randomBytes(32).toString("hex")}\n`, { flag: "wx", mode: 0o600 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  const value = readFileSync(path, "utf8").trim();
  if (!/^0x[0-9a-fA-F]{64}$/.test(value)) {
    throw new ConfigError(`The secret file ${path} is not 32-byte hex`, {
      code: "invalid_parameter",
      hint: "Restore it from a backup; deleting it loses access to channels it authorized",
    });
  }
  return value as Hex;
}
