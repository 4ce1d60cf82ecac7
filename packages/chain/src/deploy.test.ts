import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { modelRegistryAbi, paymentChannelsAbi, stakingAbi } from "@verity/contracts";
import { BaseError } from "@verity/core";
import { generatePrivateKey } from "viem/accounts";
import { deploy } from "./deploy.ts";
import { readDeployment, verifyDeployment, writeDeployment } from "./deployment-file.ts";
import { createRpcServer } from "./rpc-server.ts";
import { createTestChain, type TestChain } from "./testing.ts";

let t: TestChain;
before(async () => {
  t = await createTestChain();
});
after(async () => {
  await t.close();
});

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<BaseError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof BaseError, `expected a Verity error, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected rejection with ${code}`);
}

test("deploys the whole set, wires Staking to Disputes, and round-trips the deployment file", async () => {
  const steps: string[] = [];
  const deployment = await deploy({
    provider: t.edr.provider,
    deployer: t.account("deployer").privateKey,
    expectedChainId: 31337,
    onProgress: (p) => steps.push(p.step),
  });
  assert.equal(steps.length, 13);
  assert.ok(deployment.contracts.InferenceOracle, "the deployment names its InferenceOracle contract");
  assert.ok(deployment.contracts.OracleMarketResolver, "the deployment names its example oracle consumer");
  assert.equal(deployment.params.oracleResolver, t.account("deployer").address);
  assert.equal(steps.at(-1), "installed the x402 batch-settlement contracts");
  assert.ok(deployment.contracts.GatewayDeposits, "the deployment names its GatewayDeposits contract");
  const datasets = deployment.contracts.DatasetRegistry;
  assert.ok(datasets, "the deployment names its DatasetRegistry contract");
  const creditsFrom = await t.publicClient.readContract({
    address: deployment.contracts.ModelRegistry.address,
    abi: modelRegistryAbi,
    functionName: "datasetRegistry",
  });
  assert.equal(creditsFrom.toLowerCase(), datasets.address.toLowerCase(), "models credit the deployed datasets");
  assert.equal(deployment.chainId, 31337);
  assert.equal(deployment.token.decimals, 6);
  assert.equal(deployment.params.treasury, t.account("deployer").address);
  const { Staking, Disputes, PaymentChannels, TestUSD } = deployment.contracts;
  assert.ok(TestUSD);
  const disputes = await t.publicClient.readContract({
    address: Staking.address,
    abi: stakingAbi,
    functionName: "disputes",
  });
  assert.equal(disputes.toLowerCase(), Disputes.address.toLowerCase());
  const token = await t.publicClient.readContract({
    address: PaymentChannels.address,
    abi: paymentChannelsAbi,
    functionName: "token",
  });
  assert.equal(token.toLowerCase(), TestUSD.address.toLowerCase());

  const file = join(mkdtempSync(join(tmpdir(), "verity-deploy-")), "deployment.json");
  writeDeployment(file, deployment);
  assert.deepEqual(readDeployment(file), deployment);
  const { GatewayDeposits: _, DatasetRegistry: __, ...older } = deployment.contracts;
  writeDeployment(file, { ...deployment, contracts: older });
  assert.equal(readDeployment(file).contracts.GatewayDeposits, undefined, "a file from before GatewayDeposits loads");
  assert.equal(readDeployment(file).contracts.DatasetRegistry, undefined, "a file from before DatasetRegistry loads");
  await verifyDeployment({ publicClient: t.publicClient, deployment });
  await rejectsWith(
    verifyDeployment({ publicClient: t.publicClient, deployment: { ...deployment, chainId: 1 } }),
    "deployment_mismatch",
  );
  const moved = { ...deployment.contracts, Staking: { address: t.account("client-1").address, block: 0 } };
  await rejectsWith(
    verifyDeployment({ publicClient: t.publicClient, deployment: { ...deployment, contracts: moved } }),
    "deployment_mismatch",
  );
});

test("an existing token can be used instead of TestUSD", async () => {
  const first = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  const token = first.contracts.TestUSD?.address;
  assert.ok(token);
  const second = await deploy({
    provider: t.edr.provider,
    deployer: t.account("deployer").privateKey,
    params: { token, treasury: t.account("treasury").address },
  });
  assert.equal(second.contracts.TestUSD, undefined);
  assert.equal(second.token.address.toLowerCase(), token.toLowerCase());
  assert.equal(second.params.faucet, false);
});

test("bad input fails fast with a reason code and a hint", async () => {
  const key = t.account("deployer").privateKey;
  await rejectsWith(deploy({ rpcUrl: "not a url", deployer: key }), "invalid_parameter");
  await rejectsWith(deploy({ rpcUrl: "http://127.0.0.1:1", deployer: key }), "rpc_unreachable");
  await rejectsWith(deploy({ provider: t.edr.provider, deployer: key, expectedChainId: 8453 }), "chain_id_mismatch");
  const unfunded = await rejectsWith(
    deploy({ provider: t.edr.provider, deployer: generatePrivateKey() }),
    "account_unfunded",
  );
  assert.match(unfunded.message, /needs about/);
  await rejectsWith(
    deploy({ provider: t.edr.provider, deployer: key, params: { protocolFeeBps: 20_000 } }),
    "invalid_parameter",
  );
  await rejectsWith(
    deploy({
      provider: t.edr.provider,
      deployer: key,
      params: { auditWindow: 10n, disputeWindow: 10n, unbondingDelay: 20n },
    }),
    "invalid_parameter",
  );
  await rejectsWith(
    deploy({ provider: t.edr.provider, deployer: key, params: { treasury: "0x1234" as `0x${string}` } }),
    "invalid_parameter",
  );
  await rejectsWith(
    deploy({ provider: t.edr.provider, deployer: key, params: { bogus: 1 } as never }),
    "invalid_parameter",
  );
});

test("deploys over JSON-RPC to a separately served chain", async () => {
  const server = createRpcServer({ provider: t.edr.provider, port: 0 });
  const url = await server.start();
  try {
    const deployment = await deploy({
      rpcUrl: url,
      deployer: t.account("deployer").privateKey,
      expectedChainId: 31337,
    });
    assert.equal(deployment.chainId, 31337);
  } finally {
    await server.stop();
  }
});
