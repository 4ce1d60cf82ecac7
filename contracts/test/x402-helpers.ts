/**
 * Scene for the x402 batch-settlement tests: the Verity deployment on a test chain (which installs
 * the x402 contracts at their canonical addresses), the real `@x402/evm` client scheme for a payer,
 * the real facilitator scheme registered in `x402Facilitator`, and helpers to build the payloads
 * the resource server would send it (claim, settle, refund).
 */
import { x402Facilitator } from "@x402/core/facilitator";
import type { Network, PaymentPayload, PaymentRequirements } from "@x402/core/types";
import { toFacilitatorEvmSigner } from "@x402/evm";
import {
  BatchSettlementEvmScheme as ClientScheme,
  computeChannelId,
  InMemoryClientChannelStorage,
  updateChannelFromSettle,
} from "@x402/evm/batch-settlement/client";
import { BatchSettlementEvmScheme as FacilitatorScheme } from "@x402/evm/batch-settlement/facilitator";
import { createPublicClient, createWalletClient, custom, type Hex, keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { TestChain } from "../../packages/chain/src/testing.ts";
import {
  X402_BATCH_SETTLEMENT_ADDRESS,
  X402_ERC3009_DEPOSIT_COLLECTOR_ADDRESS,
} from "../../packages/chain/src/x402-batch-settlement.ts";
import { testUSDAbi, x402BatchSettlementAbi } from "../generated/index.ts";
import { deployFixture } from "./fixture.ts";

export const NETWORK: Network = "eip155:31337";
export const SETTLEMENT = X402_BATCH_SETTLEMENT_ADDRESS;
export const COLLECTOR = X402_ERC3009_DEPOSIT_COLLECTOR_ADDRESS;
export const PRICE = 1_000n;
export const DEPOSIT = 10_000n;
export const WITHDRAW_DELAY = 900;

export type ChannelConfig = {
  payer: `0x${string}`;
  payerAuthorizer: `0x${string}`;
  receiver: `0x${string}`;
  receiverAuthorizer: `0x${string}`;
  token: `0x${string}`;
  withdrawDelay: number;
  salt: Hex;
};
export type Voucher = { channelId: Hex; maxClaimableAmount: string; signature: Hex };
export type VoucherClaim = {
  voucher: { channel: ChannelConfig; maxClaimableAmount: string };
  signature: Hex;
  totalClaimed: string;
};

export async function x402Scene(t: TestChain) {
  const f = await deployFixture(t);
  const transport = custom(t.edr.provider, { retryCount: 0 });
  const publicClient = createPublicClient({ chain: t.chain, transport, pollingInterval: 10 });
  const [, name, version] = await publicClient.readContract({
    address: f.addresses.token,
    abi: testUSDAbi,
    functionName: "eip712Domain",
  });

  // The facilitator pays gas as `gateway`; `provider-1` is the receiver and `validator-1` its authorizer.
  const facilitatorAccount = privateKeyToAccount(t.account("gateway").privateKey);
  const walletClient = createWalletClient({ chain: t.chain, transport, account: facilitatorAccount });
  const signer = toFacilitatorEvmSigner({
    address: facilitatorAccount.address,
    readContract: (args) => publicClient.readContract(args as never),
    verifyTypedData: (args) => publicClient.verifyTypedData(args as never),
    writeContract: (args) => walletClient.writeContract({ ...args, account: facilitatorAccount } as never),
    sendTransaction: (args) => walletClient.sendTransaction({ ...args, account: facilitatorAccount }),
    waitForTransactionReceipt: (args) => publicClient.waitForTransactionReceipt(args),
    getCode: (args) => publicClient.getCode(args),
  });
  const authorizer = privateKeyToAccount(t.account("validator-1").privateKey);
  const facilitatorScheme = new FacilitatorScheme(signer, authorizer);
  const facilitator = new x402Facilitator().register(NETWORK, facilitatorScheme);
  const receiver = t.account("provider-1").address;

  const requirements: PaymentRequirements = {
    scheme: "batch-settlement",
    network: NETWORK,
    asset: f.addresses.token,
    amount: PRICE.toString(),
    payTo: receiver,
    maxTimeoutSeconds: 300,
    extra: { name, version, withdrawDelay: WITHDRAW_DELAY, ...facilitatorScheme.getExtra(NETWORK) },
  };

  /** A payer (devnet account `name`, minted `mint` TestUSD) with the real x402 client scheme. */
  async function payer(accountName: string, options: { payerAuthorizer?: `0x${string}` } = {}) {
    const mint = 100n * DEPOSIT;
    const account = privateKeyToAccount(t.account(accountName).privateKey);
    await f.mint(account.address, mint);
    const storage = new InMemoryClientChannelStorage();
    const client = new ClientScheme(account, {
      storage,
      salt: keccak256(toHex(accountName)),
      depositStrategy: () => DEPOSIT.toString(),
      ...(options.payerAuthorizer === undefined ? {} : { payerAuthorizer: options.payerAuthorizer }),
    });
    let config: ChannelConfig | undefined;
    let last: Voucher | undefined;
    /** The payload the client attaches to its next request (a deposit first, then vouchers). */
    async function pay(): Promise<PaymentPayload> {
      const result = await client.createPaymentPayload(2, requirements);
      const inner = result.payload as { channelConfig: ChannelConfig; voucher: Voucher };
      config = inner.channelConfig;
      last = inner.voucher;
      return { x402Version: 2, accepted: requirements, payload: result.payload } as PaymentPayload;
    }
    /** What the server does after a paid request: tells the client it was charged the full price. */
    async function charged(payload: PaymentPayload): Promise<void> {
      const inner = payload.payload as { type: string; deposit?: { amount: string }; voucher: Voucher };
      await updateChannelFromSettle(storage, {
        server: { chargedAmount: PRICE.toString() },
        local: {
          channelId: inner.voucher.channelId,
          requestAmount: PRICE.toString(),
          ...(inner.deposit ? { depositAmount: inner.deposit.amount } : {}),
        },
      });
    }
    return {
      account,
      client,
      pay,
      charged,
      get config(): ChannelConfig {
        if (!config) throw new Error("no payment made yet");
        return config;
      },
      get voucher(): Voucher {
        if (!last) throw new Error("no payment made yet");
        return last;
      },
      get channelId(): Hex {
        if (!config) throw new Error("no payment made yet");
        return computeChannelId(config, NETWORK);
      },
    };
  }

  /** One paid request: the client's payload, verified (and, for a deposit, settled) by the facilitator. */
  async function request(p: Awaited<ReturnType<typeof payer>>) {
    const payload = await p.pay();
    const verified = await facilitator.verify(payload, requirements);
    if (!verified.isValid) throw new Error(`verify failed: ${verified.invalidReason} ${verified.invalidMessage ?? ""}`);
    const type = (payload.payload as { type: string }).type;
    if (type === "deposit") {
      const settled = await facilitator.settle(payload, requirements);
      if (!settled.success) throw new Error(`deposit failed: ${settled.errorReason} ${settled.errorMessage ?? ""}`);
    }
    await p.charged(payload);
    return { payload, type };
  }

  function claimOf(config: ChannelConfig, voucher: Voucher, totalClaimed = voucher.maxClaimableAmount): VoucherClaim {
    return {
      voucher: { channel: config, maxClaimableAmount: voucher.maxClaimableAmount },
      signature: voucher.signature,
      totalClaimed,
    };
  }
  /** The server's `claim` payload; the facilitator adds the authorizer's ClaimBatch signature. */
  function claimPayload(claims: VoucherClaim[]): PaymentPayload {
    return { x402Version: 2, accepted: requirements, payload: { type: "claim", claims } } as PaymentPayload;
  }
  function settlePayload(): PaymentPayload {
    return {
      x402Version: 2,
      accepted: requirements,
      payload: { type: "settle", receiver, token: f.addresses.token },
    } as PaymentPayload;
  }
  function channelState(channelId: Hex) {
    return publicClient.readContract({
      address: SETTLEMENT,
      abi: x402BatchSettlementAbi,
      functionName: "channels",
      args: [channelId],
    });
  }
  function tokenBalance(address: `0x${string}`) {
    return publicClient.readContract({
      address: f.addresses.token,
      abi: testUSDAbi,
      functionName: "balanceOf",
      args: [address],
    });
  }
  return {
    f,
    publicClient,
    facilitator,
    facilitatorScheme,
    authorizer,
    receiver,
    requirements,
    tokenDomain: { name, version },
    payer,
    request,
    claimOf,
    claimPayload,
    settlePayload,
    channelState,
    tokenBalance,
  };
}

export type X402Scene = Awaited<ReturnType<typeof x402Scene>>;

/** Converts a package-shaped claim to the contract's argument shape. */
export function claimArg(c: VoucherClaim) {
  return {
    voucher: { channel: configArg(c.voucher.channel), maxClaimableAmount: BigInt(c.voucher.maxClaimableAmount) },
    signature: c.signature,
    totalClaimed: BigInt(c.totalClaimed),
  };
}

export function configArg(c: ChannelConfig) {
  return { ...c };
}
