/**
 * The provider's durable `ChannelStorage` for x402 batch-settlement: one SQLite row per channel
 * paid into this provider (the latest voucher, the cumulative charge, the request holding it), in
 * its own file with `synchronous = FULL`. `updateChannel` runs its read-modify-write in one
 * `BEGIN IMMEDIATE` transaction, synchronously, so no other request of this process interleaves and
 * the charge is on disk before the answer goes out.
 */
import { inTransaction, openDatabase } from "@verity/chain";
import type { Channel, ChannelStorage } from "@x402/evm/batch-settlement/server";

export function createX402ChannelStorage(options: { path: string }): ChannelStorage & { close(): void } {
  const db = openDatabase(options.path);
  db.exec(`CREATE TABLE IF NOT EXISTS x402_channels (
    channel_id TEXT PRIMARY KEY,
    payer TEXT NOT NULL,
    record TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  )`);
  const select = db.prepare("SELECT record FROM x402_channels WHERE channel_id = ?");
  const all = db.prepare("SELECT record FROM x402_channels ORDER BY channel_id");
  const upsert = db.prepare(
    `INSERT INTO x402_channels (channel_id, payer, record, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (channel_id) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at`,
  );
  const remove = db.prepare("DELETE FROM x402_channels WHERE channel_id = ?");
  const read = (channelId: string): Channel | undefined => {
    const row = select.get(channelId.toLowerCase()) as { record: string } | undefined;
    return row ? (JSON.parse(row.record) as Channel) : undefined;
  };
  return {
    get: async (channelId) => read(channelId),
    list: async () => (all.all() as { record: string }[]).map((row) => JSON.parse(row.record) as Channel),
    async updateChannel(channelId, update) {
      return inTransaction(db, () => {
        const current = read(channelId);
        const next = update(current);
        if (next === current) return { channel: current, status: "unchanged" as const };
        if (next === undefined) {
          remove.run(channelId.toLowerCase());
          return { channel: undefined, status: "deleted" as const };
        }
        upsert.run(channelId.toLowerCase(), next.channelConfig.payer.toLowerCase(), JSON.stringify(next), Date.now());
        return { channel: next, status: "updated" as const };
      });
    },
    close: () => db.close(),
  };
}
