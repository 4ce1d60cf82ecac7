/**
 * The gateway's durable `ChannelStorage` for x402 batch-settlement: the `@x402/evm` server scheme
 * keeps, per channel, the latest signed voucher and the cumulative amount charged against it — the
 * money the gateway may claim on chain. Each `updateChannel` is one transaction with the row locked
 * (`SELECT … FOR UPDATE`), so concurrent requests on one channel — through this replica or others
 * sharing the database — see each other's charges, and the charge is committed before the answer
 * goes out (persist before acknowledge). Without a store the package's in-memory storage is used.
 */
import type { Channel, ChannelStorage, ChannelUpdateResult } from "@x402/evm/batch-settlement/server";
import type { GatewayStore } from "../store/index.ts";

type Row = { record: Channel | string };

const parse = (row: Row | undefined): Channel | undefined =>
  row === undefined ? undefined : typeof row.record === "string" ? (JSON.parse(row.record) as Channel) : row.record;

export function createBatchChannelStorage(options: { store: GatewayStore }): ChannelStorage {
  const { store } = options;
  const id = (channelId: string) => channelId.toLowerCase();
  return {
    async get(channelId) {
      const [row] = await store.query<Row>("SELECT record FROM x402_batch_channels WHERE channel_id = $1", [
        id(channelId),
      ]);
      return parse(row);
    },
    async list() {
      const rows = await store.query<Row>("SELECT record FROM x402_batch_channels ORDER BY channel_id");
      return rows.map((row) => parse(row) as Channel);
    },
    updateChannel(channelId, update): Promise<ChannelUpdateResult> {
      return store.transaction(async (tx) => {
        const [row] = await tx.query<Row>("SELECT record FROM x402_batch_channels WHERE channel_id = $1 FOR UPDATE", [
          id(channelId),
        ]);
        const current = parse(row);
        const next = update(current);
        if (next === current) return { channel: current, status: "unchanged" };
        if (next === undefined) {
          await tx.query("DELETE FROM x402_batch_channels WHERE channel_id = $1", [id(channelId)]);
          return { channel: undefined, status: "deleted" };
        }
        await tx.query(
          `INSERT INTO x402_batch_channels (channel_id, payer, record, updated_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (channel_id) DO UPDATE SET record = EXCLUDED.record, updated_at = EXCLUDED.updated_at`,
          [id(channelId), next.channelConfig.payer.toLowerCase(), JSON.stringify(next), Date.now()],
        );
        return { channel: next, status: "updated" };
      });
    },
  };
}
