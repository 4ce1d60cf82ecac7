/**
 * Test helper: an in-process chain with the contracts deployed, the test models registered by the
 * model owner, and a real provider serving them with the llama.cpp engine over HTTP.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createChannelReader, createNativeAccount, currentReceiverSigner, deploy } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import { datasetRegistryAbi, modelRegistryAbi, paymentChannelsAbi, testUSDAbi } from "@verity/contracts";
import { type ChannelConfig, channelIdOf, type Deployment, voucherDomain, voucherTypes } from "@verity/core";
import { announceManifest, createTestEngine, type Engine } from "@verity/engine";
import { keccak256, maxUint256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { ClaimPolicy } from "./claimer.ts";
import { compositeIdentity } from "./dataset-offering.ts";
import { createProvider, type Provider, type ProviderInfo } from "./provider.ts";

export const TEST_OPERATOR_KEY = "verity-test-operator";

/** Registers an engine's model in the ModelRegistry as the devnet model owner (royalty in bps). */
export async function registerTestModel(
  t: TestChain,
  deployment: Deployment,
  engine: Engine,
  royaltyBps = 500,
): Promise<bigint> {
  const address = deployment.contracts.ModelRegistry.address;
  const existing = await t.publicClient.readContract({
    address,
    abi: modelRegistryAbi,
    functionName: "modelIdOf",
    args: [engine.identity.weightsHash, engine.identity.tokenizerHash],
  });
  if (existing !== 0n) return existing;
  const hash = await t.wallet("modelOwner").writeContract({
    address,
    abi: modelRegistryAbi,
    functionName: "registerModel",
    args: [
      engine.identity.weightsHash,
      engine.identity.tokenizerHash,
      royaltyBps,
      "https://example.org/licence",
      engine.name,
    ],
  });
  await t.publicClient.waitForTransactionReceipt({ hash });
  return t.publicClient.readContract({
    address,
    abi: modelRegistryAbi,
    functionName: "modelIdOf",
    args: [engine.identity.weightsHash, engine.identity.tokenizerHash],
  });
}

/**
 * Registers `engine` + dataset `datasetId` as a composite model (owned by `modelOwner`, identity
 * `compositeIdentity` of the dataset's registered digest) and credits the dataset `shareBps`
 * (0: no credit).
 */
export async function registerTestComposite(args: {
  t: TestChain;
  deployment: Deployment;
  engine: Engine;
  datasetId: bigint;
  royaltyBps: number;
  shareBps: number;
}): Promise<bigint> {
  const { t, deployment } = args;
  const registry = deployment.contracts.DatasetRegistry?.address;
  if (!registry) throw new Error("the deployment has no DatasetRegistry");
  const dataset = await t.publicClient.readContract({
    address: registry,
    abi: datasetRegistryAbi,
    functionName: "getDataset",
    args: [args.datasetId],
  });
  const identity = compositeIdentity({ base: args.engine.identity, digest: dataset.digest });
  const modelId = await registerTestModel(
    t,
    deployment,
    { identity, name: `${args.engine.name}+data-${args.datasetId}` } as Engine,
    args.royaltyBps,
  );
  if (args.shareBps === 0) return modelId; // registered without a credit
  const hash = await t.wallet("modelOwner").writeContract({
    address: deployment.contracts.ModelRegistry.address,
    abi: modelRegistryAbi,
    functionName: "creditDataset",
    args: [modelId, args.datasetId, args.shareBps],
  });
  await t.publicClient.waitForTransactionReceipt({ hash });
  return modelId;
}

/** Mints TestUSD to `name` (the deployer owns TestUSD on test deployments). */
export async function mintTestUSD(t: TestChain, deployment: Deployment, name: string, amount: bigint): Promise<void> {
  const hash = await t.wallet("deployer").writeContract({
    address: deployment.token.address,
    abi: testUSDAbi,
    functionName: "mint",
    args: [t.account(name).address, amount],
  });
  await t.publicClient.waitForTransactionReceipt({ hash });
}

/** Opens a channel from `payer` (who is also its authorizer) to `agentId` for `modelId`. */
export async function openTestChannel(args: {
  t: TestChain;
  deployment: Deployment;
  payer: string;
  agentId: bigint;
  modelId: bigint;
  amount: bigint;
  salt?: string;
}): Promise<`0x${string}`> {
  const { t, deployment } = args;
  await mintTestUSD(t, deployment, args.payer, args.amount);
  const wallet = t.wallet(args.payer);
  const approve = await wallet.writeContract({
    address: deployment.token.address,
    abi: testUSDAbi,
    functionName: "approve",
    args: [deployment.contracts.PaymentChannels.address, maxUint256],
  });
  await t.publicClient.waitForTransactionReceipt({ hash: approve });
  const config: ChannelConfig = {
    payer: t.account(args.payer).address,
    payerAuthorizer: t.account(args.payer).address,
    receiverAgentId: args.agentId,
    modelId: args.modelId,
    token: deployment.token.address,
    withdrawDelay: 3_600n,
    salt: keccak256(toHex(args.salt ?? `${args.payer}-${args.agentId}-${args.modelId}-${Date.now()}-${Math.random()}`)),
    receiverSigner: await currentReceiverSigner({
      publicClient: t.publicClient,
      agentRegistry: deployment.contracts.AgentRegistry.address,
      agentId: args.agentId,
    }),
  };
  const hash = await wallet.writeContract({
    address: deployment.contracts.PaymentChannels.address,
    abi: paymentChannelsAbi,
    functionName: "open",
    args: [config, args.amount],
  });
  const receipt = await t.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error("opening the channel failed");
  return channelIdOf(config);
}

/** `payer` (the channel's authorizer) signs a voucher for `amount` and `claimer` claims it in full. */
export async function claimTestChannel(args: {
  t: TestChain;
  deployment: Deployment;
  payer: string;
  claimer: string;
  channelId: `0x${string}`;
  amount: bigint;
}): Promise<void> {
  const { t, deployment } = args;
  const paymentChannels = deployment.contracts.PaymentChannels.address;
  const signature = await privateKeyToAccount(t.account(args.payer).privateKey).signTypedData({
    domain: voucherDomain({ chainId: deployment.chainId, verifyingContract: paymentChannels }),
    types: voucherTypes,
    primaryType: "Voucher",
    message: { channelId: args.channelId, cumulativeAmount: args.amount },
  });
  const config = await createChannelReader({ publicClient: t.publicClient, paymentChannels }).configOf(args.channelId);
  if (!config) throw new Error("the channel is not opened");
  const hash = await t.wallet(args.claimer).writeContract({
    address: paymentChannels,
    abi: paymentChannelsAbi,
    functionName: "claim",
    args: [[{ config, cumulativeAmount: args.amount, amount: args.amount, signature }]],
  });
  const receipt = await t.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error("claiming the channel failed");
}

export type TestProvider = {
  t: TestChain;
  deployment: Deployment;
  provider: Provider;
  info: ProviderInfo;
  url: string;
  engines: Engine[];
  /** The substitute engine, when the provider was started in dishonest-provider mode. */
  substitute?: Engine;
  dataDir: string;
  operatorKey: string;
  close(): Promise<void>;
};

export async function startTestProvider(
  options: {
    models?: string[];
    account?: string;
    inputPricePerMTok?: bigint;
    outputPricePerMTok?: bigint;
    maxOutputTokens?: number;
    claim?: Partial<ClaimPolicy>;
    maxQueued?: number;
    t?: TestChain;
    deployment?: Deployment;
    dataDir?: string;
    /** Dishonest-provider mode: serve this test model on a fraction `rate` of paid requests. */
    substitute?: { model: string; rate: number };
    /** The clock receipts are timestamped with, in ms (a provider that backdates its receipts). */
    receiptClock?: () => number;
    /** Refuse channel-paid requests without a seed key (`missing_seed`). */
    requireSeed?: boolean;
    /** Announce a manifest with this quantization for every model (as a provider with `--model` does). */
    quantization?: string;
    /** What the provider announces about request data in `/health`. */
    dataCollection?: "allow" | "deny";
    /**
     * Serve the first model as "model + dataset": `modelOwner` registers the composite model
     * (`compositeIdentity` of the registered dataset's digest) with `royaltyBps` and credits the
     * dataset `shareBps`; the provider retrieves from `file`.
     */
    dataset?: { datasetId: bigint; file: string; royaltyBps: number; shareBps: number };
  } = {},
): Promise<TestProvider> {
  const t = options.t ?? (await createTestChain());
  const deployment =
    options.deployment ?? (await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey }));
  const engines = await Promise.all((options.models ?? ["verity-tiny"]).map((name) => createTestEngine({ name })));
  const substitute = options.substitute ? await createTestEngine({ name: options.substitute.model }) : undefined;
  for (const engine of engines) await registerTestModel(t, deployment, engine);
  if (options.dataset && engines[0])
    await registerTestComposite({ t, deployment, engine: engines[0], ...options.dataset });
  const account = options.account ?? "provider-1";
  await mintTestUSD(t, deployment, account, 1_000_000_000n);
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "verity-provider-"));
  const provider = createProvider({
    deployment,
    provider: t.edr.provider,
    account: createNativeAccount(t.account(account).privateKey),
    models: engines.map((engine, i) => ({
      engine,
      ...(i === 0 && options.dataset
        ? { dataset: { datasetId: options.dataset.datasetId, file: options.dataset.file } }
        : {}),
      inputPricePerMTok: options.inputPricePerMTok ?? 1_000_000n,
      outputPricePerMTok: options.outputPricePerMTok ?? 2_000_000n,
      maxOutputTokens: options.maxOutputTokens ?? 256,
      ...(options.requireSeed ? { requireSeed: true } : {}),
      ...(options.quantization
        ? {
            manifest: announceManifest({
              name: engine.name,
              weightsDigest: engine.identity.weightsHash,
              tokenizerDigest: engine.identity.tokenizerHash,
              quantization: options.quantization,
              engine: { name: "verity-test", version: "1" },
              contextLength: engine.contextSize,
            }),
          }
        : {}),
      ...(substitute && options.substitute
        ? { substitute: { engine: substitute, rate: options.substitute.rate } }
        : {}),
    })),
    stake: 500_000_000n,
    dataDir,
    operatorKey: TEST_OPERATOR_KEY,
    indexerPollMs: 50,
    claim: options.claim ?? { minValue: 10n ** 30n, maxAgeMs: 3_600_000 },
    ...(options.maxQueued === undefined ? {} : { maxQueued: options.maxQueued }),
    ...(options.receiptClock === undefined ? {} : { receiptClock: options.receiptClock }),
    ...(options.dataCollection === undefined ? {} : { dataCollection: options.dataCollection }),
  });
  const info = await provider.start();
  return {
    t,
    deployment,
    provider,
    info,
    url: info.url,
    engines,
    ...(substitute ? { substitute } : {}),
    dataDir,
    operatorKey: TEST_OPERATOR_KEY,
    async close() {
      await provider.stop({ finalClaim: false, drainMs: 1_000 });
      for (const engine of engines) await engine.close();
      await substitute?.close();
      if (!options.t) await t.close();
    },
  };
}
