/**
 * The durable record of a persistent embedded chain: `genesis.json` (what the chain was created
 * with) and `journal.jsonl` (every state-changing request, one JSON line each, fsync'd before the
 * request is answered). EDR keeps its state in memory only; replaying the journal on the same
 * genesis rebuilds it block for block.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { type FileHandle, open, truncate } from "node:fs/promises";
import { join } from "node:path";
import { ChainError } from "@verity/core";
import { z } from "zod";

const hex = z.string().regex(/^0x[0-9a-fA-F]*$/);

export const genesisRecordSchema = z.object({
  version: z.literal(1),
  chainId: z.number().int().positive(),
  /** Unix seconds of the genesis block. */
  genesisTimestamp: z.number().int().nonnegative(),
  hardfork: z.string(),
  blockGasLimit: z.string().regex(/^\d+$/),
  initialBaseFeePerGas: z.string().regex(/^\d+$/),
  accounts: z.array(z.object({ privateKey: hex, balance: z.string().regex(/^\d+$/) })),
  /** Hash of block 0, checked when the chain is created again. */
  genesisHash: hex.optional(),
});

export type GenesisRecord = z.infer<typeof genesisRecordSchema>;

export const journalEntrySchema = z.object({
  seq: z.number().int().nonnegative(),
  method: z.string(),
  params: z.unknown(),
  /** The request answered with an error but still changed the chain (e.g. a reverted transaction mined). */
  failed: z.literal(true).optional(),
  /** Timestamp of the first block the request mined; absent when it mined none. */
  mined: z.number().int().nonnegative().optional(),
  /** Head after the request: replay must reach exactly this block. */
  head: z.object({ number: z.number().int().nonnegative(), hash: hex }),
  /** Chain time minus wall time after the request, in seconds (what `evm_increaseTime 0` reports). */
  offset: z.number().int(),
  /** Wall clock when the entry was written, ms since the epoch. */
  at: z.number().int().nonnegative(),
});

export type JournalEntry = z.infer<typeof journalEntrySchema>;

export type Journal = {
  readonly dir: string;
  /** The genesis the journal was written on, or undefined for a new folder. */
  readonly genesis: GenesisRecord | undefined;
  /** Entries already on disk when the journal was opened (a torn last line is dropped). */
  readonly entries: readonly JournalEntry[];
  writeGenesis(record: GenesisRecord): void;
  /** Appends one entry and waits until it is on disk. */
  append(entry: JournalEntry): Promise<void>;
  close(): Promise<void>;
};

export const GENESIS_FILE = "genesis.json";
export const JOURNAL_FILE = "journal.jsonl";

function corrupt(message: string, dir: string): ChainError {
  return new ChainError(message, {
    code: "state_replay_mismatch",
    hint: `The chain state in ${dir} cannot be trusted: delete that folder or pass another --state-dir`,
    details: { dir },
  });
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function readGenesis(dir: string): GenesisRecord | undefined {
  const path = join(dir, GENESIS_FILE);
  if (!existsSync(path)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw corrupt(`${path} is not valid JSON`, dir);
  }
  const parsed = genesisRecordSchema.safeParse(json);
  if (!parsed.success) throw corrupt(`${path} does not describe a Verity chain genesis`, dir);
  return parsed.data;
}

/**
 * Reads the journal's entries. A last line without its newline (or that does not parse) is a write
 * cut short by a crash: it was never acknowledged, so it is dropped and the file truncated to the
 * last whole entry. A bad line anywhere else means the file was damaged.
 */
async function readEntries(dir: string): Promise<JournalEntry[]> {
  const path = join(dir, JOURNAL_FILE);
  if (!existsSync(path)) return [];
  const text = readFileSync(path, "utf8");
  const entries: JournalEntry[] = [];
  let offset = 0;
  let goodBytes = 0;
  let line = 0;
  while (offset < text.length) {
    const end = text.indexOf("\n", offset);
    const raw = end === -1 ? text.slice(offset) : text.slice(offset, end);
    const last = end === -1 || end === text.length - 1;
    line++;
    let entry: JournalEntry | undefined;
    try {
      const parsed = journalEntrySchema.safeParse(JSON.parse(raw));
      if (parsed.success && end !== -1) entry = parsed.data;
    } catch {
      entry = undefined;
    }
    if (!entry) {
      if (last) break;
      throw corrupt(`${path} line ${line} is not a journal entry`, dir);
    }
    if (entry.seq !== entries.length) throw corrupt(`${path} line ${line} is out of sequence`, dir);
    entries.push(entry);
    offset = end + 1;
    goodBytes += Buffer.byteLength(raw, "utf8") + 1;
  }
  if (goodBytes < Buffer.byteLength(text, "utf8")) await truncate(path, goodBytes);
  return entries;
}

/** Opens (creating if needed) the journal folder of a persistent chain. */
export async function openJournal(dir: string): Promise<Journal> {
  mkdirSync(dir, { recursive: true });
  let genesis = readGenesis(dir);
  const entries = await readEntries(dir);
  if (!genesis && entries.length > 0) throw corrupt(`${dir} has a journal but no ${GENESIS_FILE}`, dir);
  let handle: FileHandle | undefined;
  let tail: Promise<void> = Promise.resolve();
  return {
    dir,
    get genesis() {
      return genesis;
    },
    entries,
    writeGenesis(record) {
      const path = join(dir, GENESIS_FILE);
      const temp = `${path}.${process.pid}.tmp`;
      const fd = openSync(temp, "w");
      try {
        writeSync(fd, `${JSON.stringify(record, null, 2)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, path);
      fsyncDir(dir);
      genesis = record;
    },
    append(entry) {
      const line = `${JSON.stringify(entry, (_key, value) => (typeof value === "bigint" ? `0x${value.toString(16)}` : value))}\n`;
      const write = tail.then(async () => {
        if (!handle) {
          const created = !existsSync(join(dir, JOURNAL_FILE));
          handle = await open(join(dir, JOURNAL_FILE), "a");
          if (created) fsyncDir(dir);
        }
        await handle.write(line);
        await handle.datasync();
      });
      tail = write.catch(() => {});
      return write;
    },
    async close() {
      await tail;
      await handle?.close();
      handle = undefined;
    },
  };
}
