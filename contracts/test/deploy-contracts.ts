/**
 * Deploys the whole Verity contract set on a test chain through the production deployment
 * (packages/chain/src/deploy.ts), so contract tests exercise exactly what `verity deploy` ships.
 */
import { getAddress } from "viem";
import { deploy } from "../../packages/chain/src/deploy.ts";
import type { TestChain } from "../../packages/chain/src/testing.ts";
import { deployParamsSchema } from "../../packages/core/src/deployment.ts";

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
export const defaultFixtureParams: FixtureParams = (() => {
  const d = deployParamsSchema.parse({});
  return {
    protocolFeeBps: d.protocolFeeBps,
    maxRoyaltyBps: d.maxRoyaltyBps,
    minWithdrawDelay: d.minWithdrawDelay,
    maxWithdrawDelay: d.maxWithdrawDelay,
    minStakePerOffer: d.minStakePerOffer,
    auditWindow: d.auditWindow,
    disputeWindow: d.disputeWindow,
    unbondingDelay: d.unbondingDelay,
  };
})();

export async function deployContracts(t: TestChain, params: FixtureParams) {
  const treasury = t.account("treasury").address;
  const deployment = await deploy({
    provider: t.edr.provider,
    deployer: t.account("deployer").privateKey,
    params: { ...params, treasury, faucet: true },
  });
  const c = deployment.contracts;
  if (!c.TestUSD) throw new Error("the test deployment must include TestUSD");
  if (!c.DatasetRegistry) throw new Error("the test deployment must include DatasetRegistry");
  if (!c.InferenceOracle || !c.OracleMarketResolver) throw new Error("the test deployment must include the oracle");
  return {
    token: getAddress(c.TestUSD.address),
    agentRegistry: getAddress(c.AgentRegistry.address),
    modelRegistry: getAddress(c.ModelRegistry.address),
    datasetRegistry: getAddress(c.DatasetRegistry.address),
    paymentChannels: getAddress(c.PaymentChannels.address),
    reputationRegistry: getAddress(c.ReputationRegistry.address),
    validationRegistry: getAddress(c.ValidationRegistry.address),
    staking: getAddress(c.Staking.address),
    disputes: getAddress(c.Disputes.address),
    inferenceOracle: getAddress(c.InferenceOracle.address),
    oracleMarketResolver: getAddress(c.OracleMarketResolver.address),
    treasury,
  };
}

export type DeployedContracts = Awaited<ReturnType<typeof deployContracts>>;
