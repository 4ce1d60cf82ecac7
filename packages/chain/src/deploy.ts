import * as artifacts from "@verity/contracts";
import {
  ConfigError,
  type Deployment,
  type DeployParams,
  type DeployParamsInput,
  deployParamsSchema,
} from "@verity/core";
import { type Abi, type Account, getContractAddress, type Hex } from "viem";
import { type ChainClients, connectChain } from "./connect.ts";
import { readTokenInfo } from "./token-info.ts";
import { installX402BatchSettlement, X402_INSTALL_CHAIN_ID } from "./x402-batch-settlement.ts";

export type DeployProgress = { step: string; address?: `0x${string}`; ms: number };

export type DeployOptions = {
  /** JSON-RPC URL of the target chain (or pass `provider`). */
  rpcUrl?: string;
  /** An EIP-1193 provider, e.g. the embedded EDR chain. */
  provider?: import("viem").EIP1193Provider;
  /** Deployer: a private key or a viem account. */
  deployer: Hex | Account;
  params?: DeployParamsInput;
  /** Fail unless the chain reports this id. */
  expectedChainId?: number;
  onProgress?: (progress: DeployProgress) => void;
};

/** Gas the whole deployment needs at most; used to refuse an unfunded deployer before sending anything. */
const DEPLOY_GAS_BUDGET = 30_000_000n;

/**
 * Deploys the whole Verity contract set (the inference oracle and its example market included) and wires Staking ↔ Disputes ↔ PaymentChannels: Disputes'
 * address is predicted from the deployer's nonce so Staking holds it as an immutable. Returns the
 * deployment record (write it with `writeDeployment`). Works on the embedded chain and any JSON-RPC chain.
 * On chain 31337 it also installs the x402 batch-settlement contracts at their canonical addresses.
 */
export async function deploy(options: DeployOptions): Promise<Deployment> {
  const params: DeployParams = parseParams(options.params ?? {});
  const clients = await connectChain({
    ...(options.rpcUrl === undefined ? {} : { rpcUrl: options.rpcUrl }),
    ...(options.provider === undefined ? {} : { provider: options.provider }),
    account: options.deployer,
    ...(options.expectedChainId === undefined ? {} : { expectedChainId: options.expectedChainId }),
  });
  await clients.requireFunds({ gas: DEPLOY_GAS_BUDGET, what: "deploy the contracts" });
  const deployer = clients.account.address;
  const treasury = params.treasury ?? deployer;
  const startBlock = Number(await clients.publicClient.getBlockNumber());
  const report = options.onProgress ?? (() => {});

  const deployed: Partial<Record<string, { address: `0x${string}`; block: number }>> = {};
  async function deployOne(name: string, abi: Abi, bytecode: Hex, args: readonly unknown[]) {
    const started = performance.now();
    const address = await clients.deployContract({ abi, bytecode, args, name });
    deployed[name] = address;
    report({ step: `deployed ${name}`, address: address.address, ms: Math.round(performance.now() - started) });
    return address.address;
  }

  const token =
    params.token ??
    (await deployOne("TestUSD", artifacts.testUSDAbi, artifacts.testUSDBytecode, [deployer, params.faucet]));
  const agents = await deployOne("AgentRegistry", artifacts.agentRegistryAbi, artifacts.agentRegistryBytecode, []);
  const datasets = await deployOne(
    "DatasetRegistry",
    artifacts.datasetRegistryAbi,
    artifacts.datasetRegistryBytecode,
    [],
  );
  const models = await deployOne("ModelRegistry", artifacts.modelRegistryAbi, artifacts.modelRegistryBytecode, [
    params.maxRoyaltyBps,
    datasets,
  ]);
  const channels = await deployOne("PaymentChannels", artifacts.paymentChannelsAbi, artifacts.paymentChannelsBytecode, [
    token,
    agents,
    models,
    treasury,
    params.protocolFeeBps,
    params.minWithdrawDelay,
    params.maxWithdrawDelay,
  ]);
  const reputation = await deployOne(
    "ReputationRegistry",
    artifacts.reputationRegistryAbi,
    artifacts.reputationRegistryBytecode,
    [agents, channels],
  );
  const validation = await deployOne(
    "ValidationRegistry",
    artifacts.validationRegistryAbi,
    artifacts.validationRegistryBytecode,
    [agents],
  );
  const stakingNonce = await clients.publicClient.getTransactionCount({ address: deployer, blockTag: "pending" });
  const predictedDisputes = getContractAddress({ from: deployer, nonce: BigInt(stakingNonce + 1) });
  const staking = await deployOne("Staking", artifacts.stakingAbi, artifacts.stakingBytecode, [
    token,
    agents,
    models,
    predictedDisputes,
    params.minStakePerOffer,
    params.unbondingDelay,
    params.auditWindow,
    params.disputeWindow,
  ]);
  const disputes = await deployOne("Disputes", artifacts.disputesAbi, artifacts.disputesBytecode, [
    staking,
    channels,
    agents,
    reputation,
    validation,
    {
      challengeBond: params.challengeBond,
      validatorBond: params.validatorBond,
      voterPenalty: params.voterPenalty,
      slashAmount: params.slashAmount,
      challengerRewardBps: params.challengerRewardBps,
      committeeSize: params.committeeSize,
      commitWindow: params.commitWindow,
      revealWindow: params.revealWindow,
    },
  ]);
  await deployOne("GatewayDeposits", artifacts.gatewayDepositsAbi, artifacts.gatewayDepositsBytecode, []);
  const oracleResolver = params.oracleResolver ?? deployer;
  const oracle = await deployOne("InferenceOracle", artifacts.inferenceOracleAbi, artifacts.inferenceOracleBytecode, [
    staking,
    channels,
    {
      resolver: oracleResolver,
      answerBond: params.oracleAnswerBond,
      challengeBond: params.oracleChallengeBond,
      challengeWindow: params.oracleChallengeWindow,
      resolveTimeout: params.oracleResolveTimeout,
      maxCallbackGas: params.oracleMaxCallbackGas,
    },
  ]);
  await deployOne("OracleMarketResolver", artifacts.oracleMarketResolverAbi, artifacts.oracleMarketResolverBytecode, [
    oracle,
  ]);
  if (disputes.toLowerCase() !== predictedDisputes.toLowerCase()) {
    throw new Error(`Disputes deployed at ${disputes}, expected ${predictedDisputes}: another transaction interleaved`);
  }
  // The registries accept dispute verdicts only from the Disputes contract their deployer binds, once.
  for (const [name, address, abi] of [
    ["ReputationRegistry", reputation, artifacts.reputationRegistryAbi],
    ["ValidationRegistry", validation, artifacts.validationRegistryAbi],
  ] as const) {
    await clients.transact(`Binding ${name} to Disputes`, () =>
      clients.walletClient.writeContract({
        address,
        abi: abi as Abi,
        functionName: "bindDisputes",
        args: [disputes],
      } as never),
    );
  }
  // The devnet has no canonical x402 batch-settlement deployment: put Verity's there.
  if (clients.chainId === X402_INSTALL_CHAIN_ID) {
    const started = performance.now();
    await installX402BatchSettlement({ client: clients.publicClient });
    report({ step: "installed the x402 batch-settlement contracts", ms: Math.round(performance.now() - started) });
  }
  const tokenInfo = await readTokenInfo({ publicClient: clients.publicClient, address: token });
  const contracts = deployed as Deployment["contracts"];
  return {
    version: 1,
    chainId: clients.chainId,
    deployer,
    startBlock,
    contracts,
    token: { address: token, ...tokenInfo },
    params: {
      faucet: params.token === undefined && params.faucet,
      treasury,
      protocolFeeBps: params.protocolFeeBps,
      maxRoyaltyBps: params.maxRoyaltyBps,
      minWithdrawDelay: params.minWithdrawDelay.toString(),
      maxWithdrawDelay: params.maxWithdrawDelay.toString(),
      minStakePerOffer: params.minStakePerOffer.toString(),
      auditWindow: params.auditWindow.toString(),
      disputeWindow: params.disputeWindow.toString(),
      unbondingDelay: params.unbondingDelay.toString(),
      challengeBond: params.challengeBond.toString(),
      validatorBond: params.validatorBond.toString(),
      voterPenalty: params.voterPenalty.toString(),
      slashAmount: params.slashAmount.toString(),
      challengerRewardBps: params.challengerRewardBps,
      committeeSize: params.committeeSize,
      commitWindow: params.commitWindow.toString(),
      revealWindow: params.revealWindow.toString(),
      oracleResolver,
      oracleAnswerBond: params.oracleAnswerBond.toString(),
      oracleChallengeBond: params.oracleChallengeBond.toString(),
      oracleChallengeWindow: params.oracleChallengeWindow.toString(),
      oracleResolveTimeout: params.oracleResolveTimeout.toString(),
      oracleMaxCallbackGas: params.oracleMaxCallbackGas,
    },
    createdAt: new Date().toISOString(),
  };
}

export type { ChainClients };

function parseParams(input: DeployParamsInput): DeployParams {
  const parsed = deployParamsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue?.path.join(".") || "params";
  throw new ConfigError(`Deployment parameter ${path} ${issue?.message ?? "is invalid"}`, {
    code: "invalid_parameter",
    hint: "Fix the parameter (see `verity deploy --help` for the accepted values)",
    details: { parameter: path },
  });
}
