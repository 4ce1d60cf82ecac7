import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { agentRegistryAbi, modelRegistryAbi, paymentChannelsAbi, testUSDAbi } from "@verity/contracts";
import { type ChannelConfig, channelIdOf, type Deployment } from "@verity/core";
import { type Abi, keccak256, maxUint256, toHex } from "viem";
import { createChannelReader } from "./channel-reader.ts";
import { deploy } from "./deploy.ts";
import { currentReceiverSigner } from "./receiver-signer.ts";
import { createTestChain, type TestChain } from "./testing.ts";

let t: TestChain;
let deployment: Deployment;
before(async () => {
  t = await createTestChain();
  deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
});
after(() => t.close());

async function send(from: string, address: `0x${string}`, abi: Abi, functionName: string, args: readonly unknown[]) {
  const hash = await t.wallet(from).writeContract({ address, abi, functionName, args } as never);
  assert.equal((await t.publicClient.waitForTransactionReceipt({ hash })).status, "success", functionName);
}

test("reads a channel by id: its terms from ChannelOpened, its state with them; nothing for an unopened id", async () => {
  const c = deployment.contracts;
  const token = deployment.token.address;
  await send("provider-1", c.AgentRegistry.address, agentRegistryAbi, "register", ["https://p1.example/agent.json"]);
  await send("modelOwner", c.ModelRegistry.address, modelRegistryAbi, "registerModel", [
    keccak256(toHex("weights")),
    keccak256(toHex("tokenizer")),
    0,
    "",
    "m",
  ]);
  const agentId = 1n;
  const signer = await currentReceiverSigner({
    publicClient: t.publicClient,
    agentRegistry: c.AgentRegistry.address,
    agentId,
  });
  assert.equal(signer, t.account("provider-1").address, "no wallet set: the owner signs receipts");
  const config: ChannelConfig = {
    payer: t.account("client-1").address,
    payerAuthorizer: t.account("client-2").address,
    receiverAgentId: agentId,
    modelId: 1n,
    token,
    withdrawDelay: BigInt(deployment.params.minWithdrawDelay),
    salt: keccak256(toHex("reader")),
    receiverSigner: signer,
  };
  await send("deployer", token, testUSDAbi, "mint", [config.payer, 5_000n]);
  await send("client-1", token, testUSDAbi, "approve", [c.PaymentChannels.address, maxUint256]);
  await send("client-1", c.PaymentChannels.address, paymentChannelsAbi, "open", [config, 5_000n]);

  const reader = createChannelReader({ publicClient: t.publicClient, paymentChannels: c.PaymentChannels.address });
  const id = channelIdOf(config);
  const view = await reader.read(id);
  assert.ok(view);
  assert.deepEqual(view.config, config);
  assert.equal(view.deposit, 5_000n);
  assert.equal(view.receiverSigner, signer);
  assert.equal(await reader.read(keccak256(toHex("never opened"))), undefined);
  // Terms another contract emitted are not found here (the log is read from PaymentChannels only).
  const other = createChannelReader({ publicClient: t.publicClient, paymentChannels: c.Staking.address });
  assert.equal(await other.configOf(id), undefined);
});
