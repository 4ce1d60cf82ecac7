/**
 * Selling for Verity vouchers: the buyer opens a PaymentChannels channel to the seller's agent id
 * for the seller's model (service) id and sends a `Verity-Voucher` per request, exactly as it pays a
 * provider. The check is the provider's own voucher gate (@verity/chain) over a channel mirror fed
 * by the chain indexer, so the rules and reason codes are the same (`voucher_replayed`,
 * `voucher_below_ceiling`, …); the price of the call is reserved out of the voucher's headroom at
 * once (concurrent calls on one channel cannot spend the same headroom), charged and persisted
 * after the handler succeeded, and released when it failed. `claim` settles every channel's charged
 * total under its highest voucher in one `claim` transaction (the seller's agent owner, operator or
 * wallet must send it).
 */
import {
  type ChainClients,
  createChannelMirror,
  createIndexer,
  createPaymentGate,
  createVoucherVerifier,
  type Reservation,
} from "@verity/chain";
import { paymentChannelsAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import type { PublicClient } from "viem";
import type { SellerStore } from "./seller-store.ts";

export type VoucherSalesOptions = {
  deployment: Deployment;
  publicClient: PublicClient;
  /** The seller's ERC-8004 agent id (channels name it as receiver). */
  agentId: bigint;
  /** The ModelRegistry id the channels are opened for (the service sold). */
  modelId: bigint;
  store: SellerStore;
  /** SQLite file of the chain index (default: in memory). */
  indexPath?: string;
  /** Refuse a channel whose withdrawal finalizes within this many seconds (default 300). */
  withdrawMarginSeconds?: number;
};

export type VoucherSale = { reservation: Reservation; price: bigint };

export function createVoucherSales(options: VoucherSalesOptions) {
  const { deployment, store } = options;
  const paymentChannels = deployment.contracts.PaymentChannels.address;
  const indexer = createIndexer({
    deployment,
    publicClient: options.publicClient,
    db: options.indexPath ?? ":memory:",
  });
  const mirror = createChannelMirror({ indexer, agentId: options.agentId });
  const gate = createPaymentGate({
    mirror,
    store: store.vouchers,
    verifier: createVoucherVerifier({ chainId: deployment.chainId, verifyingContract: paymentChannels }),
    chainId: deployment.chainId,
    paymentChannels,
    ...(options.withdrawMarginSeconds === undefined ? {} : { withdrawMarginSeconds: options.withdrawMarginSeconds }),
  });
  const ready = indexer.syncOnce().then(() => indexer.start());

  return {
    /** Checks the voucher and reserves `price` of its headroom (throws a PaymentError otherwise). */
    async authorize(header: string, price: bigint): Promise<VoucherSale> {
      await ready;
      const reservation = await gate.authorize({ header, modelId: options.modelId, ceiling: price });
      return { reservation, price };
    },
    /** Charges the sale: recorded (one transaction) before the response goes out, then released. */
    commit(sale: VoucherSale): { channelId: `0x${string}`; charged: bigint } {
      const { reservation, price } = sale;
      try {
        const charged = reservation.cumulativeAfter(price);
        store.vouchers.record({
          channelId: reservation.channel.channelId,
          voucherAmount: reservation.voucher.cumulativeAmount,
          signature: reservation.voucher.signature,
          charged,
          charge: price,
        });
        return { channelId: reservation.channel.channelId, charged };
      } finally {
        reservation.release();
      }
    },
    /** Gives the reserved headroom back: nothing is charged and the voucher stays unused. */
    release(sale: VoucherSale): void {
      sale.reservation.release();
    },
    /** Claims every channel whose charged total is above what the chain has settled; the tx hash or undefined. */
    async claim(clients: ChainClients): Promise<`0x${string}` | undefined> {
      await indexer.syncOnce();
      const claims = store.vouchers.all().flatMap((c) => {
        const channel = mirror.get(c.channelId);
        // Claims pass the channel's terms; a channel whose terms are not mirrored yet waits.
        if (!channel?.config || channel.finalized || c.charged <= channel.claimed) return [];
        return [
          { config: channel.config, cumulativeAmount: c.voucherAmount, amount: c.charged, signature: c.signature },
        ];
      });
      if (claims.length === 0) return undefined;
      const hash = await clients.walletClient.writeContract({
        address: paymentChannels,
        abi: paymentChannelsAbi,
        functionName: "claim",
        args: [claims],
        account: clients.account,
        chain: clients.walletClient.chain,
      });
      await clients.publicClient.waitForTransactionReceipt({ hash });
      await indexer.syncOnce();
      return hash;
    },
    /**
     * Claims only credit the seller's share to its agent inside PaymentChannels: this pays all of it
     * to the agent's wallet, else owner (`withdrawEarnings`); the tx hash, or undefined when nothing
     * is credited.
     */
    async withdraw(clients: ChainClients): Promise<`0x${string}` | undefined> {
      const [earnings] = await clients.publicClient.readContract({
        address: paymentChannels,
        abi: paymentChannelsAbi,
        functionName: "earningsOf",
        args: [options.agentId],
      });
      if (earnings === 0n) return undefined;
      const hash = await clients.walletClient.writeContract({
        address: paymentChannels,
        abi: paymentChannelsAbi,
        functionName: "withdrawEarnings",
        args: [options.agentId],
        account: clients.account,
        chain: clients.walletClient.chain,
      });
      const receipt = await clients.publicClient.waitForTransactionReceipt({ hash });
      if (receipt.status !== "success") throw new Error(`withdrawal transaction ${hash} reverted`);
      return hash;
    },
    async stop(): Promise<void> {
      await ready.catch(() => {});
      await indexer.stop();
      mirror.close();
    },
  };
}

export type VoucherSales = ReturnType<typeof createVoucherSales>;
