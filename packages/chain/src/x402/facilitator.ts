/**
 * The gateway's in-process x402 facilitator: the official `x402Facilitator` with the EVM `exact`
 * scheme (EIP-3009 `transferWithAuthorization`) registered for our network, driven by a viem wallet
 * that pays the settlement gas. `LocalFacilitatorClient` exposes it through the `FacilitatorClient`
 * interface that `x402ResourceServer` expects, so no HTTP facilitator is involved.
 */
import { type PendingSettlementStore, x402Facilitator } from "@x402/core/facilitator";
import type { FacilitatorClient } from "@x402/core/server";
import type { Network, PaymentPayload, PaymentRequirements, SettleResponse, VerifyResponse } from "@x402/core/types";
import { type FacilitatorEvmSigner, toFacilitatorEvmSigner } from "@x402/evm";
import { BatchSettlementEvmScheme } from "@x402/evm/batch-settlement/facilitator";
import { ExactEvmScheme } from "@x402/evm/exact/facilitator";
import type { Account, Chain, PublicClient, Transport, WalletClient } from "viem";

/** The viem clients the facilitator needs: `connectChain`'s `ChainClients` fit as they are. */
export type FacilitatorClients = {
  publicClient: PublicClient<Transport, Chain | undefined>;
  walletClient: WalletClient<Transport, Chain | undefined, Account>;
};

/** Adapts viem clients to the x402 facilitator signer (reads via the public client, writes via the wallet). */
export function facilitatorSigner(clients: FacilitatorClients, confirmationTimeoutMs?: number): FacilitatorEvmSigner {
  const { publicClient, walletClient } = clients;
  const account = walletClient.account;
  const chain = walletClient.chain ?? publicClient.chain ?? null;
  return toFacilitatorEvmSigner(
    {
      address: account.address,
      readContract: (args) => publicClient.readContract(args as never),
      verifyTypedData: (args) => publicClient.verifyTypedData(args as never),
      writeContract: (args) => walletClient.writeContract({ ...args, account, chain } as never),
      sendTransaction: (args) => walletClient.sendTransaction({ ...args, account, chain }),
      waitForTransactionReceipt: (args) => publicClient.waitForTransactionReceipt(args),
      getCode: (args) => publicClient.getCode(args),
    },
    confirmationTimeoutMs === undefined ? {} : { confirmationTimeoutMs },
  );
}

/**
 * An x402 facilitator that verifies and settles EVM payments on `network` itself: `exact`, and
 * `batch-settlement` (deposits, claims, sweeps and refunds through the scheme's contract at its
 * canonical address), with the wallet's account as the channels' receiver authorizer (it signs each
 * claim batch; the batch scheme pays its own gas like `exact`).
 */
export function createLocalFacilitator(options: {
  network: Network;
  clients: FacilitatorClients;
  confirmationTimeoutMs?: number;
  pendingSettlementStore?: PendingSettlementStore;
}): x402Facilitator {
  const scheme = new ExactEvmScheme(
    facilitatorSigner(options.clients, options.confirmationTimeoutMs),
    options.pendingSettlementStore ? { pendingSettlementStore: options.pendingSettlementStore } : {},
  );
  const account = options.clients.walletClient.account;
  const authorizer = {
    address: account.address,
    signTypedData: (params: Parameters<NonNullable<typeof account.signTypedData>>[0]) => {
      if (!account.signTypedData) throw new Error("the facilitator account cannot sign typed data");
      return account.signTypedData(params);
    },
  };
  const batch = new BatchSettlementEvmScheme(
    facilitatorSigner(options.clients, options.confirmationTimeoutMs),
    authorizer as never,
    options.pendingSettlementStore ? { pendingSettlementStore: options.pendingSettlementStore } : {},
  );
  return new x402Facilitator().register(options.network, scheme).register(options.network, batch);
}

/** `FacilitatorClient` over an in-process `x402Facilitator` (what `HTTPFacilitatorClient` is over HTTP). */
export class LocalFacilitatorClient implements FacilitatorClient {
  readonly facilitator: x402Facilitator;

  constructor(facilitator: x402Facilitator) {
    this.facilitator = facilitator;
  }

  verify(paymentPayload: PaymentPayload, paymentRequirements: PaymentRequirements): Promise<VerifyResponse> {
    return this.facilitator.verify(paymentPayload, paymentRequirements);
  }

  settle(paymentPayload: PaymentPayload, paymentRequirements: PaymentRequirements): Promise<SettleResponse> {
    return this.facilitator.settle(paymentPayload, paymentRequirements);
  }

  async getSupported() {
    const supported = this.facilitator.getSupported();
    return { ...supported, kinds: supported.kinds.map((kind) => ({ ...kind, network: kind.network as Network })) };
  }
}
