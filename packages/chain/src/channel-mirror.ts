import type { ChannelConfig } from "@verity/core";
import type { Indexer } from "./indexer.ts";

/** A channel as its receiver (a provider, a seller) sees it, mirrored from chain events by the indexer. */
export type MirroredChannel = {
  channelId: `0x${string}`;
  payer: `0x${string}`;
  payerAuthorizer: `0x${string}`;
  /** Who must sign the channel's receipts (fixed at open); null when the index predates the field. */
  receiverSigner: `0x${string}` | null;
  receiverAgentId: bigint;
  modelId: bigint;
  deposit: bigint;
  claimed: bigint;
  /** Unix seconds when a pending withdrawal can finalize, or null. */
  withdrawableAt: number | null;
  finalized: boolean;
  /** The channel's terms, which every call about it passes (null when the index predates `receiverSigner`). */
  config: ChannelConfig | null;
};

const CHANNEL_EVENTS = new Set([
  "ChannelOpened",
  "ChannelToppedUp",
  "Claimed",
  "WithdrawInitiated",
  "WithdrawCancelled",
  "WithdrawFinalized",
]);

/**
 * In-memory mirror of the channels paying one agent, fed by the indexer's projection and refreshed
 * on every channel event. Lookups on the hot path are a Map read: no chain call, no network hop.
 */
export function createChannelMirror(options: { indexer: Indexer; agentId: bigint }) {
  const { indexer } = options;
  const channels = new Map<string, MirroredChannel>();
  const select = indexer.db.prepare("SELECT * FROM channels WHERE channel_id = ?");
  const listeners = new Set<(channel: MirroredChannel) => void>();

  function load(row: Record<string, unknown>): MirroredChannel {
    const receiverSigner = (row.receiver_signer as `0x${string}` | null) ?? null;
    const config: ChannelConfig | null =
      receiverSigner === null
        ? null
        : {
            payer: row.payer as `0x${string}`,
            payerAuthorizer: row.payer_authorizer as `0x${string}`,
            receiverAgentId: BigInt(String(row.receiver_agent_id)),
            modelId: BigInt(String(row.model_id)),
            token: row.token as `0x${string}`,
            withdrawDelay: BigInt(String(row.withdraw_delay)),
            salt: row.salt as `0x${string}`,
            receiverSigner,
          };
    return {
      channelId: row.channel_id as `0x${string}`,
      payer: row.payer as `0x${string}`,
      payerAuthorizer: row.payer_authorizer as `0x${string}`,
      receiverSigner: (row.receiver_signer as `0x${string}` | null) ?? null,
      receiverAgentId: BigInt(String(row.receiver_agent_id)),
      modelId: BigInt(String(row.model_id)),
      deposit: BigInt(String(row.deposit)),
      claimed: BigInt(String(row.claimed)),
      withdrawableAt: (row.withdrawable_at as number | null) ?? null,
      finalized: Number(row.finalized) === 1,
      config,
    };
  }

  function refresh(channelId: string): void {
    const row = select.get(channelId) as Record<string, unknown> | undefined;
    if (!row) return;
    const channel = load(row);
    if (channel.receiverAgentId !== options.agentId) return;
    channels.set(channel.channelId, channel);
    for (const listener of listeners) listener(channel);
  }

  const rows = indexer.db
    .prepare("SELECT * FROM channels WHERE receiver_agent_id = ?")
    .all(options.agentId.toString()) as Record<string, unknown>[];
  for (const row of rows) {
    const channel = load(row);
    channels.set(channel.channelId, channel);
  }
  const unsubscribe = indexer.subscribe((events) => {
    for (const event of events) {
      if (CHANNEL_EVENTS.has(event.name)) refresh(String(event.args.channelId).toLowerCase());
    }
  });

  return {
    get(channelId: `0x${string}`): MirroredChannel | undefined {
      return channels.get(channelId.toLowerCase());
    },
    /** Catches up with the chain once (used for a voucher on a channel opened moments ago). */
    async sync(): Promise<void> {
      await indexer.syncOnce();
    },
    /** Chain time in unix seconds (withdrawal deadlines are in chain time). */
    chainNow(): number {
      return indexer.chainNow();
    },
    all(): MirroredChannel[] {
      return [...channels.values()];
    },
    onChange(listener: (channel: MirroredChannel) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close(): void {
      unsubscribe();
    },
  };
}

export type ChannelMirror = ReturnType<typeof createChannelMirror>;
