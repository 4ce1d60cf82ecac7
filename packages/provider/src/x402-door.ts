/**
 * The provider's x402 door: a payer without a Verity channel pays per request with the unmodified
 * x402 `batch-settlement` client — one ERC-3009 deposit into the scheme's channel contract, then a
 * cumulative voucher per request, charged what the answer cost (at most the request's ceiling).
 * The provider's own account is the channels' receiver and receiver authorizer: its in-process
 * facilitator submits deposits, and the claims loop claims the latest vouchers in batches and
 * sweeps them to it. Offered only where the scheme's contract is at its canonical address.
 */
import {
  BATCH_SCHEME,
  type BatchClaims,
  type BatchVerified,
  createBatchClaims,
  createBatchPayments,
  createLocalFacilitator,
  type FacilitatorClients,
  LocalFacilitatorClient,
} from "@verity/chain/x402";
import { PaymentError } from "@verity/core";
import { decodePaymentSignatureHeader, encodePaymentRequiredHeader } from "@x402/core/http";
import { x402ResourceServer } from "@x402/core/server";
import type { Network } from "@x402/core/types";
import { BATCH_SETTLEMENT_ADDRESS } from "@x402/evm";
import { BatchSettlementEvmScheme } from "@x402/evm/batch-settlement/server";
import type { Address } from "viem";
import { createX402ChannelStorage } from "./x402-channel-storage.ts";

export type X402DoorCharge = { resourceUrl: string; description: string; amount: bigint };

export type X402Door = {
  /** Whether batch-settlement is offered (its contract is deployed on this chain). */
  ready: Promise<boolean>;
  /** `ready`'s answer once known (false until then). */
  readonly offered: boolean;
  /** The `PAYMENT-REQUIRED` header value for a request costing at most `charge.amount`. */
  paymentRequired(charge: X402DoorCharge & { error?: string }): Promise<string>;
  verify(headers: Headers, charge: X402DoorCharge): Promise<BatchVerified>;
  settle(verified: BatchVerified, charge: bigint): Promise<{ header: string; amount: bigint }>;
  release(verified: BatchVerified): Promise<void>;
  readonly claims: BatchClaims | undefined;
  stop(): Promise<void>;
};

export function createX402Door(options: {
  chainId: number;
  token: { address: Address; name: string; version: string };
  clients: FacilitatorClients;
  /** SQLite file for the channel records. */
  path: string;
  claimIntervalSeconds?: number;
  settleIntervalSeconds?: number;
  onError?: (error: unknown) => void;
}): X402Door {
  const network: Network = `eip155:${options.chainId}`;
  const payTo = options.clients.walletClient.account.address;
  const storage = createX402ChannelStorage({ path: options.path });
  const facilitator = new LocalFacilitatorClient(
    createLocalFacilitator({ network, clients: options.clients, confirmationTimeoutMs: 60_000 }),
  );
  const scheme = new BatchSettlementEvmScheme(payTo, { storage });
  const server = new x402ResourceServer(facilitator).register(network, scheme);
  const payments = createBatchPayments({ network, server, token: options.token, payTo, maxTimeoutSeconds: 300 });
  let claims: BatchClaims | undefined;
  const ready = (async () => {
    const code = await options.clients.publicClient.getCode({ address: BATCH_SETTLEMENT_ADDRESS });
    if (!code || code === "0x") return false;
    await server.initialize();
    claims = createBatchClaims({
      scheme,
      facilitator,
      network,
      token: options.token.address,
      ...(options.claimIntervalSeconds === undefined ? {} : { claimIntervalSeconds: options.claimIntervalSeconds }),
      ...(options.settleIntervalSeconds === undefined ? {} : { settleIntervalSeconds: options.settleIntervalSeconds }),
      ...(options.onError ? { onError: options.onError } : {}),
    });
    claims.start();
    return true;
  })();
  let offered = false;
  ready.then((v) => (offered = v)).catch(() => {});

  const resource = (charge: X402DoorCharge) => ({
    url: charge.resourceUrl,
    description: charge.description,
    mimeType: "application/json",
  });

  return {
    ready,
    async paymentRequired(charge) {
      const requirements = await payments.requirementsFor(charge);
      const body = await server.createPaymentRequiredResponse([requirements], resource(charge), charge.error);
      return encodePaymentRequiredHeader(body);
    },
    async verify(headers, charge) {
      if (!(await ready)) {
        throw new PaymentError("This provider does not accept x402 batch-settlement on this chain", {
          code: "x402_payment_invalid",
          hint: "Pay with a Verity voucher (Verity-Voucher header)",
        });
      }
      const raw = headers.get("payment-signature") ?? "";
      let payload: ReturnType<typeof decodePaymentSignatureHeader>;
      try {
        payload = decodePaymentSignatureHeader(raw.trim());
      } catch (cause) {
        throw new PaymentError("The x402 payment header is not base64 JSON", {
          code: "x402_payment_invalid",
          hint: "Send the PAYMENT-SIGNATURE header an x402 batch-settlement client produces",
          cause,
        });
      }
      if (payload?.x402Version !== 2 || payload.accepted?.scheme !== BATCH_SCHEME) {
        throw new PaymentError("This provider takes x402 batch-settlement (v2) only", {
          code: "x402_payment_invalid",
          hint: "Register the batch-settlement scheme in your x402 client, or pay with a Verity voucher",
        });
      }
      return payments.verify(payload, charge, async () => []);
    },
    async settle(verified, charge) {
      const settled = await payments.settle(verified, charge);
      return { header: settled.header, amount: settled.amount };
    },
    release: (verified) => payments.release(verified),
    get offered() {
      return offered;
    },
    get claims() {
      return claims;
    },
    async stop() {
      await ready.catch(() => false);
      await claims?.stop();
      storage.close();
    },
  };
}
