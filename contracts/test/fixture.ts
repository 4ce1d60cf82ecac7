/**
 * Deploys the whole Verity contract set on a test chain in the order and with the constructor
 * arguments of docs/CONTRACTS.md, and returns typed addresses plus helpers the contract tests share
 * (minting, registering agents and models, opening channels, signing vouchers and permits).
 */
import {
  type Abi,
  type Address,
  decodeErrorResult,
  encodeDeployData,
  getContract,
  getContractAddress,
  type Hex,
  keccak256,
  parseSignature,
  type TransactionReceipt,
  toHex,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { TestChain } from "../../packages/chain/src/testing.ts";
import {
  agentRegistryAbi,
  agentRegistryBytecode,
  disputesAbi,
  disputesBytecode,
  modelRegistryAbi,
  modelRegistryBytecode,
  paymentChannelsAbi,
  paymentChannelsBytecode,
  reputationRegistryAbi,
  reputationRegistryBytecode,
  stakingAbi,
  stakingBytecode,
  testUSDAbi,
  testUSDBytecode,
  validationRegistryAbi,
  validationRegistryBytecode,
} from "../generated/index.ts";

export type FixtureParams = {
  protocolFeeBps: number;
  maxRoyaltyBps: number;
  minWithdrawDelay: bigint;
  maxWithdrawDelay: bigint;
  minStakePerOffer: bigint;
  auditWindow: bigint;
  disputeWindow: bigint;
  unbondingDelay: bigint;
};

/** The defaults of `deployParamsSchema` in packages/core. */
export const defaultFixtureParams: FixtureParams = {
  protocolFeeBps: 100,
  maxRoyaltyBps: 2_000,
  minWithdrawDelay: 900n,
  maxWithdrawDelay: 30n * 86_400n,
  minStakePerOffer: 100_000_000n,
  auditWindow: 86_400n,
  disputeWindow: 2n * 86_400n,
  unbondingDelay: 4n * 86_400n,
};

/** `PaymentChannels.ChannelConfig` as viem encodes it. */
export type ChannelConfig = {
  payer: Address;
  payerAuthorizer: Address;
  receiverAgentId: bigint;
  modelId: bigint;
  token: Address;
  withdrawDelay: bigint;
  salt: Hex;
};

export type VoucherOptions = {
  channelId: Hex;
  cumulativeAmount: bigint;
  /** Devnet account name or private key of the signer. */
  signer: string | Hex;
  /** Domain overrides, to forge wrong-chain or wrong-contract vouchers. */
  chainId?: number;
  verifyingContract?: Address;
};

export async function deployFixture(t: TestChain, overrides: Partial<FixtureParams> = {}) {
  const params: FixtureParams = { ...defaultFixtureParams, ...overrides };
  const deployer = t.account("deployer").address;
  const treasury = t.account("treasury").address;
  const { publicClient } = t;

  const token = await t.deploy({ from: "deployer", abi: testUSDAbi, bytecode: testUSDBytecode, args: [deployer, true] });
  const agentRegistry = await t.deploy({ from: "deployer", abi: agentRegistryAbi, bytecode: agentRegistryBytecode });
  const modelRegistry = await t.deploy({
    from: "deployer",
    abi: modelRegistryAbi,
    bytecode: modelRegistryBytecode,
    args: [params.maxRoyaltyBps],
  });
  const paymentChannels = await t.deploy({
    from: "deployer",
    abi: paymentChannelsAbi,
    bytecode: paymentChannelsBytecode,
    args: [
      token,
      agentRegistry,
      modelRegistry,
      treasury,
      params.protocolFeeBps,
      params.minWithdrawDelay,
      params.maxWithdrawDelay,
    ],
  });
  const reputationRegistry = await t.deploy({
    from: "deployer",
    abi: reputationRegistryAbi,
    bytecode: reputationRegistryBytecode,
    args: [agentRegistry, paymentChannels],
  });
  const validationRegistry = await t.deploy({
    from: "deployer",
    abi: validationRegistryAbi,
    bytecode: validationRegistryBytecode,
    args: [agentRegistry],
  });
  const nonce = await publicClient.getTransactionCount({ address: deployer });
  const predictedDisputes = getContractAddress({ from: deployer, nonce: BigInt(nonce + 1) });
  const staking = await t.deploy({
    from: "deployer",
    abi: stakingAbi,
    bytecode: stakingBytecode,
    args: [
      token,
      agentRegistry,
      modelRegistry,
      predictedDisputes,
      params.minStakePerOffer,
      params.unbondingDelay,
      params.auditWindow,
      params.disputeWindow,
    ],
  });
  const disputes = await t.deploy({
    from: "deployer",
    abi: disputesAbi,
    bytecode: disputesBytecode,
    args: [staking, paymentChannels, agentRegistry],
  });
  if (disputes.toLowerCase() !== predictedDisputes.toLowerCase()) throw new Error("Disputes address mismatch");

  const addresses = {
    token,
    agentRegistry,
    modelRegistry,
    paymentChannels,
    reputationRegistry,
    validationRegistry,
    staking,
    disputes,
    treasury,
  };

  async function mined(hash: Promise<Hex>): Promise<TransactionReceipt> {
    const receipt = await publicClient.waitForTransactionReceipt({ hash: await hash });
    if (receipt.status !== "success") throw new Error(`transaction ${receipt.transactionHash} reverted`);
    return receipt;
  }
  function signerKey(signer: string | Hex): Hex {
    return signer.startsWith("0x") ? (signer as Hex) : t.account(signer).privateKey;
  }

  /** Mints `amount` TestUSD to `to` (owner mint by the deployer). */
  async function mint(to: Address, amount: bigint): Promise<void> {
    await mined(t.wallet("deployer").writeContract({ address: token, abi: testUSDAbi, functionName: "mint", args: [to, amount] }));
  }
  async function approve(from: string, spender: Address, amount: bigint): Promise<void> {
    await mined(
      t.wallet(from).writeContract({ address: token, abi: testUSDAbi, functionName: "approve", args: [spender, amount] }),
    );
  }
  async function balanceOf(account: Address): Promise<bigint> {
    return publicClient.readContract({ address: token, abi: testUSDAbi, functionName: "balanceOf", args: [account] });
  }
  /** Registers an agent owned by `from` and returns its id. */
  async function registerAgent(from: string, uri = "https://agent.example/card.json"): Promise<bigint> {
    const { result, request } = await publicClient.simulateContract({
      account: t.wallet(from).account,
      address: agentRegistry,
      abi: agentRegistryAbi,
      functionName: "register",
      args: [uri],
    });
    await mined(t.wallet(from).writeContract(request));
    return result;
  }
  /** Sets `wallet` (a devnet account that signs the proof) as the payout wallet of `agentId`. */
  async function setAgentWallet(owner: string, agentId: bigint, wallet: string): Promise<void> {
    const deadline = (await publicClient.getBlock()).timestamp + 3600n;
    const signature = await privateKeyToAccount(t.account(wallet).privateKey).signTypedData({
      domain: { name: "Verity AgentRegistry", version: "1", chainId: t.chain.id, verifyingContract: agentRegistry },
      types: {
        AgentWalletSet: [
          { name: "agentId", type: "uint256" },
          { name: "newWallet", type: "address" },
          { name: "owner", type: "address" },
          { name: "deadline", type: "uint256" },
        ],
      },
      primaryType: "AgentWalletSet",
      message: { agentId, newWallet: t.account(wallet).address, owner: t.account(owner).address, deadline },
    });
    await mined(
      t.wallet(owner).writeContract({
        address: agentRegistry,
        abi: agentRegistryAbi,
        functionName: "setAgentWallet",
        args: [agentId, t.account(wallet).address, deadline, signature],
      }),
    );
  }
  let modelNonce = 0;
  /** Registers a fresh model owned by `from` with `royaltyBps` and returns its id. */
  async function registerModel(from: string, royaltyBps: number): Promise<bigint> {
    modelNonce += 1;
    const weights = keccak256(toHex(`weights-${from}-${modelNonce}`));
    const tokenizer = keccak256(toHex(`tokenizer-${modelNonce}`));
    const { result, request } = await publicClient.simulateContract({
      account: t.wallet(from).account,
      address: modelRegistry,
      abi: modelRegistryAbi,
      functionName: "registerModel",
      args: [weights, tokenizer, royaltyBps, "https://licence.example", `model-${modelNonce}`],
    });
    await mined(t.wallet(from).writeContract(request));
    return result;
  }
  /** A channel config from devnet account `payer` (also the authorizer unless given) to `agentId`. */
  function channelConfig(
    payer: string,
    agentId: bigint,
    modelId: bigint,
    options: { authorizer?: string; withdrawDelay?: bigint; salt?: Hex | number } = {},
  ): ChannelConfig {
    const salt = options.salt ?? 0;
    return {
      payer: t.account(payer).address,
      payerAuthorizer: t.account(options.authorizer ?? payer).address,
      receiverAgentId: agentId,
      modelId,
      token,
      withdrawDelay: options.withdrawDelay ?? params.minWithdrawDelay,
      salt: typeof salt === "number" ? toHex(salt, { size: 32 }) : salt,
    };
  }
  async function channelIdOf(config: ChannelConfig): Promise<Hex> {
    return publicClient.readContract({
      address: paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "channelIdOf",
      args: [config],
    });
  }
  /** Mints, approves and opens `config` with `amount`; returns the channel id and receipt. */
  async function openChannel(payer: string, config: ChannelConfig, amount: bigint) {
    await mint(config.payer, amount);
    await approve(payer, paymentChannels, amount);
    const receipt = await mined(
      t.wallet(payer).writeContract({
        address: paymentChannels,
        abi: paymentChannelsAbi,
        functionName: "open",
        args: [config, amount],
      }),
    );
    return { channelId: await channelIdOf(config), receipt };
  }
  /** EIP-712 voucher signature (domain `Verity PaymentChannels` v1 on this chain unless overridden). */
  async function signVoucher(v: VoucherOptions): Promise<Hex> {
    return privateKeyToAccount(signerKey(v.signer)).signTypedData({
      domain: {
        name: "Verity PaymentChannels",
        version: "1",
        chainId: v.chainId ?? t.chain.id,
        verifyingContract: v.verifyingContract ?? paymentChannels,
      },
      types: {
        Voucher: [
          { name: "channelId", type: "bytes32" },
          { name: "cumulativeAmount", type: "uint256" },
        ],
      },
      primaryType: "Voucher",
      message: { channelId: v.channelId, cumulativeAmount: v.cumulativeAmount },
    });
  }
  /** A `Claim` struct for `claim(Claim[])`. */
  async function voucherClaim(v: VoucherOptions) {
    return { channelId: v.channelId, cumulativeAmount: v.cumulativeAmount, signature: await signVoucher(v) };
  }
  /** EIP-2612 permit of `owner` for `spender` on TestUSD, split into `(v, r, s)`. */
  async function signPermit(owner: string, spender: Address, value: bigint, deadline: bigint) {
    const ownerAddress = t.account(owner).address;
    const nonce = await publicClient.readContract({
      address: token,
      abi: testUSDAbi,
      functionName: "nonces",
      args: [ownerAddress],
    });
    const signature = await privateKeyToAccount(t.account(owner).privateKey).signTypedData({
      domain: { name: "Test USD", version: "1", chainId: t.chain.id, verifyingContract: token },
      types: {
        Permit: [
          { name: "owner", type: "address" },
          { name: "spender", type: "address" },
          { name: "value", type: "uint256" },
          { name: "nonce", type: "uint256" },
          { name: "deadline", type: "uint256" },
        ],
      },
      primaryType: "Permit",
      message: { owner: ownerAddress, spender, value, nonce, deadline },
    });
    const { v, yParity, r, s } = parseSignature(signature);
    return { v: Number(v ?? BigInt(yParity + 27)), r, s };
  }

  /** Typed contract handles that read through the chain and write as devnet account `from`. */
  function as(from: string) {
    const client = { public: publicClient, wallet: t.wallet(from) };
    return {
      token: getContract({ address: token, abi: testUSDAbi, client }),
      agents: getContract({ address: agentRegistry, abi: agentRegistryAbi, client }),
      models: getContract({ address: modelRegistry, abi: modelRegistryAbi, client }),
      channels: getContract({ address: paymentChannels, abi: paymentChannelsAbi, client }),
      staking: getContract({ address: staking, abi: stakingAbi, client }),
      disputes: getContract({ address: disputes, abi: disputesAbi, client }),
    };
  }

  return {
    params,
    addresses,
    as,
    mined,
    mint,
    approve,
    balanceOf,
    registerAgent,
    setAgentWallet,
    registerModel,
    channelConfig,
    channelIdOf,
    openChannel,
    signVoucher,
    voucherClaim,
    signPermit,
  };
}

export type Fixture = Awaited<ReturnType<typeof deployFixture>>;

/** A `beforeEach` hook that rewinds the chain to the state it had when the hook first ran. */
export function rewinder(t: TestChain): () => Promise<void> {
  let restore: (() => Promise<void>) | undefined;
  return async () => {
    if (restore) await restore();
    restore = await t.snapshot();
  };
}

/** The custom error a deployment of `bytecode` with `args` reverts with (simulated), or undefined. */
export async function deployRevertName(
  t: TestChain,
  contract: { abi: Abi; bytecode: Hex },
  args: readonly unknown[],
): Promise<string | undefined> {
  const data = encodeDeployData({ abi: contract.abi, bytecode: contract.bytecode, args } as never);
  try {
    await t.publicClient.call({ account: t.account("deployer").address, data });
    return undefined;
  } catch (error) {
    // The node's error (wrapped by viem as an unknown RPC error) carries the revert data.
    let cause: unknown = error;
    while (cause instanceof Error) {
      const data = (cause as { data?: unknown }).data;
      if (typeof data === "string" && data.startsWith("0x")) {
        return decodeErrorResult({ abi: contract.abi, data: data as Hex }).errorName;
      }
      cause = cause.cause;
    }
    throw error;
  }
}
