/**
 * The contract-test fixture: deploys the whole Verity contract set (deploy-contracts.ts, in the
 * order and with the constructor arguments of docs/CONTRACTS.md) and returns typed addresses plus
 * the helpers tests share: clients without retries, minting, registering agents and models, opening
 * channels, signing vouchers and permits, sending expected reverts, acting as Disputes.
 */
import {
  type Abi,
  type Account,
  type Address,
  type Chain,
  createPublicClient,
  createWalletClient,
  custom,
  encodeAbiParameters,
  getContract,
  type Hex,
  keccak256,
  maxUint256,
  type TransactionReceipt,
  type Transport,
  toHex,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { createTestChain, revertErrorName, type TestChain } from "../../packages/chain/src/testing.ts";
import {
  agentRegistryAbi,
  datasetRegistryAbi,
  disputesAbi,
  modelRegistryAbi,
  paymentChannelsAbi,
  stakingAbi,
  testUSDAbi,
} from "../generated/index.ts";
import { rewinder } from "./chain-helpers.ts";
import { defaultFixtureParams, deployContracts, type FixtureParams } from "./deploy-contracts.ts";
import { signAgentWallet, signPermit as signPermitWith, signVoucher as signVoucherWith } from "./signing.ts";

export { deployRevertName, rewinder } from "./chain-helpers.ts";
export { defaultFixtureParams, type FixtureParams } from "./deploy-contracts.ts";

/** A wallet client with an account: a devnet key, or an address the test node impersonates. */
export type Sender = WalletClient<Transport, Chain, Account>;

/** `PaymentChannels.ChannelConfig` as viem encodes it. */
export type ChannelConfig = {
  payer: Address;
  payerAuthorizer: Address;
  receiverAgentId: bigint;
  modelId: bigint;
  token: Address;
  withdrawDelay: bigint;
  salt: Hex;
  receiverSigner: Address;
};

/** ABI layout of `ChannelConfig` (`channelId = keccak256(abi.encode(config))`). */
export const channelConfigParameter = {
  type: "tuple",
  components: [
    { name: "payer", type: "address" },
    { name: "payerAuthorizer", type: "address" },
    { name: "receiverAgentId", type: "uint256" },
    { name: "modelId", type: "uint256" },
    { name: "token", type: "address" },
    { name: "withdrawDelay", type: "uint64" },
    { name: "salt", type: "bytes32" },
    { name: "receiverSigner", type: "address" },
  ],
} as const;

/** The channel id of `config`, computed locally. */
export function configId(config: ChannelConfig): Hex {
  return keccak256(encodeAbiParameters([channelConfigParameter], [config]));
}

/** `PaymentChannels.Claim`: the channel's terms, the signed cap `cumulativeAmount` and the new claimed total `amount`. */
export type Claim = { config: ChannelConfig; cumulativeAmount: bigint; amount: bigint; signature: Hex };

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
  // Clients without retries: a reverting call fails at once instead of being retried with backoff.
  const transport = custom(t.edr.provider, { retryCount: 0 });
  const publicClient = createPublicClient({ chain: t.chain, transport, pollingInterval: 10 });
  const wallets = new Map<string, ReturnType<typeof makeWallet>>();
  function makeWallet(name: string) {
    return createWalletClient({ chain: t.chain, transport, account: privateKeyToAccount(t.account(name).privateKey) });
  }
  function wallet(name: string) {
    let client = wallets.get(name);
    if (!client) {
      client = makeWallet(name);
      wallets.set(name, client);
    }
    return client;
  }

  const addresses = await deployContracts(t, params);
  const { token, agentRegistry, modelRegistry, paymentChannels, staking, disputes } = addresses;

  // Every config the fixture builds or opens, by channel id, so tests can name a channel by its id.
  const configs = new Map<string, ChannelConfig>();
  // The receipt signer a channel opened now gets: agent wallet, else owner (kept by the helpers below).
  const receiverSigners = new Map<bigint, Address>();
  // Who registered each agent and each model, so `payOut` can withdraw for them.
  const agentOwners = new Map<bigint, string>();
  const modelOwners = new Set<string>();
  // A chain snapshot also keeps the signers known at that moment, so rewinding restores both.
  const chainSnapshot = t.snapshot;
  t.snapshot = async () => {
    const restore = await chainSnapshot();
    const saved = new Map(receiverSigners);
    return async () => {
      await restore();
      receiverSigners.clear();
      for (const [agent, signer] of saved) receiverSigners.set(agent, signer);
    };
  };
  function remember(config: ChannelConfig): Hex {
    const id = configId(config);
    configs.set(id.toLowerCase(), config);
    return id;
  }
  /**
   * The terms of channel `channelId` (any config the fixture built); for an id it never saw, terms
   * that hash to that nobody opened (so calls with them fail `ChannelNotFound`).
   */
  function cfg(channelId: Hex): ChannelConfig {
    const known = configs.get(channelId.toLowerCase());
    if (known) return known;
    const zero = "0x0000000000000000000000000000000000000000" as Address;
    return {
      payer: zero,
      payerAuthorizer: zero,
      receiverAgentId: 0n,
      modelId: 0n,
      token: zero,
      withdrawDelay: 0n,
      salt: channelId,
      receiverSigner: zero,
    };
  }
  /** `getChannel` of channel `channelId` (by its remembered terms). */
  async function channelView(channelId: Hex) {
    return publicClient.readContract({
      address: paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "getChannel",
      args: [cfg(channelId)],
    });
  }

  async function mined(hash: Promise<Hex>): Promise<TransactionReceipt> {
    const receipt = await publicClient.waitForTransactionReceipt({ hash: await hash });
    if (receipt.status !== "success") throw new Error(`transaction ${receipt.transactionHash} reverted`);
    return receipt;
  }
  /** Mints `amount` TestUSD to `to` (owner mint by the deployer). */
  async function mint(to: Address, amount: bigint): Promise<void> {
    await mined(
      wallet("deployer").writeContract({ address: token, abi: testUSDAbi, functionName: "mint", args: [to, amount] }),
    );
  }
  async function approve(from: string, spender: Address, amount: bigint): Promise<void> {
    await mined(
      wallet(from).writeContract({ address: token, abi: testUSDAbi, functionName: "approve", args: [spender, amount] }),
    );
  }
  /** Mints `amount` to each devnet account in `names` and approves `spender` for all of it, for good. */
  async function fund(names: readonly string[], amount: bigint, spender: Address): Promise<void> {
    for (const name of names) {
      await mint(t.account(name).address, amount);
      await approve(name, spender, maxUint256);
    }
  }
  async function balanceOf(account: Address): Promise<bigint> {
    return publicClient.readContract({ address: token, abi: testUSDAbi, functionName: "balanceOf", args: [account] });
  }
  /** Registers an agent owned by `from` and returns its id. */
  async function registerAgent(from: string, uri = "https://agent.example/card.json"): Promise<bigint> {
    const { result, request } = await publicClient.simulateContract({
      account: wallet(from).account,
      address: agentRegistry,
      abi: agentRegistryAbi,
      functionName: "register",
      args: [uri],
    });
    await mined(wallet(from).writeContract(request));
    receiverSigners.set(result, t.account(from).address);
    agentOwners.set(result, from);
    return result;
  }
  /** Sets `wallet` (a devnet account that signs the proof) as the payout wallet of `agentId`. */
  async function setAgentWallet(owner: string, agentId: bigint, walletName: string): Promise<void> {
    const deadline = (await publicClient.getBlock()).timestamp + 3600n;
    const newWallet = t.account(walletName).address;
    const signature = await signAgentWallet(
      t.account(walletName).privateKey,
      { chainId: t.chain.id, verifyingContract: agentRegistry },
      { agentId, newWallet, owner: t.account(owner).address, deadline },
    );
    await mined(
      wallet(owner).writeContract({
        address: agentRegistry,
        abi: agentRegistryAbi,
        functionName: "setAgentWallet",
        args: [agentId, newWallet, deadline, signature],
      }),
    );
    receiverSigners.set(agentId, newWallet);
  }
  /** The receipt signer a channel to `agentId` opened now gets: its wallet, else its owner. */
  async function receiverSignerOf(agentId: bigint): Promise<Address> {
    const walletOf = await publicClient.readContract({
      address: agentRegistry,
      abi: agentRegistryAbi,
      functionName: "getAgentWallet",
      args: [agentId],
    });
    if (!/^0x0{40}$/i.test(walletOf)) return walletOf;
    return publicClient.readContract({
      address: agentRegistry,
      abi: agentRegistryAbi,
      functionName: "ownerOf",
      args: [agentId],
    });
  }
  let modelNonce = 0;
  /** Registers a fresh model owned by `from` with `royaltyBps` and returns its id. */
  async function registerModel(from: string, royaltyBps: number): Promise<bigint> {
    modelNonce += 1;
    const weights = keccak256(toHex(`weights-${from}-${modelNonce}`));
    const tokenizer = keccak256(toHex(`tokenizer-${modelNonce}`));
    const { result, request } = await publicClient.simulateContract({
      account: wallet(from).account,
      address: modelRegistry,
      abi: modelRegistryAbi,
      functionName: "registerModel",
      args: [weights, tokenizer, royaltyBps, "https://licence.example", `model-${modelNonce}`],
    });
    await mined(wallet(from).writeContract(request));
    modelOwners.add(from);
    return result;
  }
  /** `earningsOf(agentId)`: the provider share and the protocol fee credited and not paid out yet. */
  async function earningsOf(agentId: bigint): Promise<{ earnings: bigint; fees: bigint }> {
    const [earnings, fees] = await publicClient.readContract({
      address: paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "earningsOf",
      args: [agentId],
    });
    return { earnings, fees };
  }
  /** `creditOf(owner)`: royalties credited to `owner` (a devnet account name or an address). */
  async function creditOf(owner: string): Promise<bigint> {
    const address = owner.startsWith("0x") ? (owner as Address) : t.account(owner).address;
    return publicClient.readContract({
      address: paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "creditOf",
      args: [address],
    });
  }
  /**
   * Pays out everything claims credited, so token balances show it: the earnings of every agent the
   * fixture registered (withdrawn by its registering owner, to the agent's wallet), the fees of all
   * of them to the treasury, and the royalties of every model owner it registered to the owner.
   */
  async function payOut(): Promise<void> {
    const withFees: bigint[] = [];
    for (const [agentId, owner] of agentOwners) {
      const { earnings, fees } = await earningsOf(agentId);
      if (fees !== 0n) withFees.push(agentId);
      if (earnings === 0n) continue;
      await mined(
        wallet(owner).writeContract({
          address: paymentChannels,
          abi: paymentChannelsAbi,
          functionName: "withdrawEarnings",
          args: [agentId],
        }),
      );
    }
    if (withFees.length !== 0) {
      await mined(
        wallet("deployer").writeContract({
          address: paymentChannels,
          abi: paymentChannelsAbi,
          functionName: "collectFees",
          args: [withFees],
        }),
      );
    }
    for (const owner of modelOwners) {
      if ((await creditOf(owner)) === 0n) continue;
      await mined(
        wallet(owner).writeContract({
          address: paymentChannels,
          abi: paymentChannelsAbi,
          functionName: "withdrawCredits",
          args: [t.account(owner).address],
        }),
      );
    }
  }
  let datasetNonce = 0;
  /** Registers a dataset owned by `from` (asking `minShareBps` of a royalty) and returns its id. */
  async function registerDataset(from: string, minShareBps = 0): Promise<bigint> {
    datasetNonce += 1;
    const { result, request } = await publicClient.simulateContract({
      account: wallet(from).account,
      address: addresses.datasetRegistry,
      abi: datasetRegistryAbi,
      functionName: "register",
      args: [keccak256(toHex(`dataset-${from}-${datasetNonce}`)), minShareBps, 0n, "ipfs://licence", "ipfs://data"],
    });
    await mined(wallet(from).writeContract(request));
    return result;
  }
  /** Credits `datasetId` with `shareBps` of model `modelId`'s royalty, as its owner `from`. */
  async function creditDataset(from: string, modelId: bigint, datasetId: bigint, shareBps: number): Promise<void> {
    await mined(
      wallet(from).writeContract({
        address: modelRegistry,
        abi: modelRegistryAbi,
        functionName: "creditDataset",
        args: [modelId, datasetId, shareBps],
      }),
    );
  }
  /** A channel config from devnet account `payer` (also the authorizer unless given) to `agentId`. */
  function channelConfig(
    payer: string,
    agentId: bigint,
    modelId: bigint,
    options: { authorizer?: string; withdrawDelay?: bigint; salt?: Hex | number; receiverSigner?: Address } = {},
  ): ChannelConfig {
    const salt = options.salt ?? 0;
    const config: ChannelConfig = {
      payer: t.account(payer).address,
      payerAuthorizer: t.account(options.authorizer ?? payer).address,
      receiverAgentId: agentId,
      modelId,
      token,
      withdrawDelay: options.withdrawDelay ?? params.minWithdrawDelay,
      salt: typeof salt === "number" ? toHex(salt, { size: 32 }) : salt,
      receiverSigner:
        options.receiverSigner ??
        receiverSigners.get(agentId) ??
        ("0x0000000000000000000000000000000000000000" as Address),
    };
    remember(config);
    return config;
  }
  async function channelIdOf(config: ChannelConfig): Promise<Hex> {
    remember(config);
    return publicClient.readContract({
      address: paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "channelIdOf",
      args: [config],
    });
  }
  /** Mints, approves and opens `config` with `amount`; returns the channel id and receipt. */
  async function openChannel(payer: string, config: ChannelConfig, amount: bigint) {
    remember(config);
    await mint(config.payer, amount);
    await approve(payer, paymentChannels, amount);
    const receipt = await mined(
      wallet(payer).writeContract({
        address: paymentChannels,
        abi: paymentChannelsAbi,
        functionName: "open",
        args: [config, amount],
      }),
    );
    return { channelId: await channelIdOf(config), receipt };
  }
  /** EIP-712 voucher signature (domain `Verity PaymentChannels` v1 on this chain unless overridden). */
  function signVoucher(v: VoucherOptions): Promise<Hex> {
    const key = v.signer.startsWith("0x") ? (v.signer as Hex) : t.account(v.signer).privateKey;
    const domain = { chainId: v.chainId ?? t.chain.id, verifyingContract: v.verifyingContract ?? paymentChannels };
    return signVoucherWith(key, domain, { channelId: v.channelId, cumulativeAmount: v.cumulativeAmount });
  }
  /**
   * A `Claim` struct for `claim(Claim[])`: a voucher signed for the cap `cumulativeAmount`, settling
   * the channel to `amount` (the charged total; the whole cap unless given).
   */
  async function voucherClaim(v: VoucherOptions & { amount?: bigint }): Promise<Claim> {
    const signature = await signVoucher(v);
    return {
      config: cfg(v.channelId),
      cumulativeAmount: v.cumulativeAmount,
      amount: v.amount ?? v.cumulativeAmount,
      signature,
    };
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
    return signPermitWith(
      t.account(owner).privateKey,
      { chainId: t.chain.id, verifyingContract: token },
      { owner: ownerAddress, spender, value, nonce, deadline },
    );
  }

  /**
   * Sends a call that must revert with explicit gas (skipping estimation), so it is mined and fails
   * on-chain; returns the custom error it reverted with and the reverted receipt.
   */
  async function sendReverting(
    from: string | Sender,
    call: { address: Address; abi: Abi; functionName: string; args: readonly unknown[] },
  ): Promise<{ errorName: string | undefined; receipt: TransactionReceipt }> {
    const sender = typeof from === "string" ? wallet(from) : from;
    const before = await publicClient.getBlockNumber({ cacheTime: 0 });
    let errorName: string | undefined;
    try {
      await sender.writeContract({ ...call, gas: 5_000_000n } as never);
    } catch (error) {
      errorName = revertErrorName(error);
    }
    const block = await publicClient.getBlock({ includeTransactions: true });
    const tx = block.transactions.at(-1);
    if (block.number !== before + 1n || !tx || tx.from.toLowerCase() !== sender.account.address.toLowerCase()) {
      throw new Error("the reverting transaction was not mined");
    }
    const receipt = await publicClient.getTransactionReceipt({ hash: tx.hash });
    if (receipt.status !== "reverted") throw new Error(`expected ${call.functionName} to revert`);
    return { errorName, receipt };
  }

  /**
   * A wallet client sending as the Disputes contract (impersonated by the test node), the only
   * address Staking accepts `slash` and `pauseOffers` from while the dispute flow is inactive.
   */
  async function disputesWallet(): Promise<Sender> {
    await t.testClient.impersonateAccount({ address: disputes });
    await t.testClient.setBalance({ address: disputes, value: 10n ** 20n });
    return createWalletClient({ chain: t.chain, transport, account: disputes });
  }
  /** Staking as seen by the impersonated Disputes contract. */
  async function asDisputes() {
    return getContract({
      address: staking,
      abi: stakingAbi,
      client: { public: publicClient, wallet: await disputesWallet() },
    });
  }
  /** Writes `Disputes.openChallenges(agentId)` directly into storage (mapping at slot 1). */
  async function setOpenChallenges(agentId: bigint, count: bigint): Promise<void> {
    const index = keccak256(encodeAbiParameters([{ type: "uint256" }, { type: "uint256" }], [agentId, 1n]));
    await t.testClient.setStorageAt({ address: disputes, index, value: toHex(count, { size: 32 }) });
  }

  /** Typed contract handles that read through the chain and write as devnet account `from`. */
  function as(from: string) {
    const client = { public: publicClient, wallet: wallet(from) };
    return {
      token: getContract({ address: token, abi: testUSDAbi, client }),
      agents: getContract({ address: agentRegistry, abi: agentRegistryAbi, client }),
      models: getContract({ address: modelRegistry, abi: modelRegistryAbi, client }),
      datasets: getContract({ address: addresses.datasetRegistry, abi: datasetRegistryAbi, client }),
      channels: getContract({ address: paymentChannels, abi: paymentChannelsAbi, client }),
      staking: getContract({ address: staking, abi: stakingAbi, client }),
      disputes: getContract({ address: disputes, abi: disputesAbi, client }),
    };
  }

  return {
    params,
    addresses,
    publicClient,
    wallet,
    as,
    mined,
    sendReverting,
    disputesWallet,
    asDisputes,
    setOpenChallenges,
    mint,
    approve,
    fund,
    balanceOf,
    registerAgent,
    setAgentWallet,
    registerModel,
    earningsOf,
    creditOf,
    payOut,
    registerDataset,
    creditDataset,
    channelConfig,
    channelIdOf,
    cfg,
    channelView,
    remember,
    receiverSignerOf,
    openChannel,
    signVoucher,
    voucherClaim,
    signPermit,
  };
}

export type Fixture = Awaited<ReturnType<typeof deployFixture>>;

/**
 * The common start of a contract test file (call it in `before`): a fresh chain with the fixture,
 * an agent of provider-1, a model of modelOwner with a 5% royalty, `funded` accounts minted
 * `amount` each with `spender` approved, and `reset`, a `beforeEach` hook rewinding to this state.
 */
export async function agentFixture(funding: {
  funded: readonly string[];
  amount: bigint;
  spender: "paymentChannels" | "staking";
}) {
  const t = await createTestChain();
  const f = await deployFixture(t);
  const agentId = await f.registerAgent("provider-1");
  const modelId = await f.registerModel("modelOwner", 500);
  await f.fund(funding.funded, funding.amount, f.addresses[funding.spender]);
  return { t, f, agentId, modelId, reset: rewinder(t) };
}
