import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { agentRegistryAbi, modelRegistryAbi, paymentChannelsAbi, stakingAbi, testUSDAbi } from "@verity/contracts";
import { type ChannelConfig, channelIdOf, type Deployment, voucherDomain, voucherTypes } from "@verity/core";
import { type Abi, createPublicClient, http, keccak256, maxUint256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { deploy } from "./deploy.ts";
import { devnetChain } from "./devnet-chain.ts";
import { createIndexer } from "./indexer.ts";
import { currentReceiverSigner } from "./receiver-signer.ts";
import { createRpcServer } from "./rpc-server.ts";
import { createTestChain, type TestChain } from "./testing.ts";

let t: TestChain;
let deployment: Deployment;
before(async () => {
  t = await createTestChain();
  deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
});
after(async () => {
  await t.close();
});

async function send(from: string, address: `0x${string}`, abi: Abi, functionName: string, args: readonly unknown[]) {
  const hash = await t.wallet(from).writeContract({ address, abi, functionName, args } as never);
  const receipt = await t.publicClient.waitForTransactionReceipt({ hash });
  assert.equal(receipt.status, "success", `${functionName} failed`);
}

/** Registers a provider and a model, stakes, publishes an offer, opens a channel and claims one voucher. */
async function protocolTraffic(salt: number) {
  const c = deployment.contracts;
  const token = deployment.token.address;
  await send("deployer", token, testUSDAbi, "mint", [t.account("provider-1").address, 1_000_000_000n]);
  await send("deployer", token, testUSDAbi, "mint", [t.account("client-1").address, 1_000_000_000n]);
  await send("provider-1", c.AgentRegistry.address, agentRegistryAbi, "register", ["https://p1.example/agent.json"]);
  const agentId = await t.publicClient.readContract({
    address: c.AgentRegistry.address,
    abi: agentRegistryAbi,
    functionName: "agentCount",
  });
  await send("modelOwner", c.ModelRegistry.address, modelRegistryAbi, "registerModel", [
    keccak256(toHex(`weights-${salt}`)),
    keccak256(toHex(`tokenizer-${salt}`)),
    500,
    "https://licence.example",
    `verity-tiny-${salt}`,
  ]);
  const modelId = await t.publicClient.readContract({
    address: c.ModelRegistry.address,
    abi: modelRegistryAbi,
    functionName: "modelCount",
  });
  await send("provider-1", token, testUSDAbi, "approve", [c.Staking.address, maxUint256]);
  await send("provider-1", c.Staking.address, stakingAbi, "stake", [agentId, 200_000_000n]);
  await send("provider-1", c.Staking.address, stakingAbi, "addOffer", [
    agentId,
    modelId,
    1_000_000n,
    2_000_000n,
    512,
    "http://127.0.0.1:9000",
  ]);
  const config: ChannelConfig = {
    payer: t.account("client-1").address,
    payerAuthorizer: t.account("client-1").address,
    receiverAgentId: agentId,
    modelId,
    token,
    withdrawDelay: 900n,
    salt: keccak256(toHex(`salt-${salt}`)),
    receiverSigner: await currentReceiverSigner({
      publicClient: t.publicClient,
      agentRegistry: c.AgentRegistry.address,
      agentId,
    }),
  };
  await send("client-1", token, testUSDAbi, "approve", [c.PaymentChannels.address, maxUint256]);
  await send("client-1", c.PaymentChannels.address, paymentChannelsAbi, "open", [config, 50_000_000n]);
  const channelId = channelIdOf(config);
  const signature = await privateKeyToAccount(t.account("client-1").privateKey).signTypedData({
    domain: voucherDomain({ chainId: deployment.chainId, verifyingContract: c.PaymentChannels.address }),
    types: voucherTypes,
    primaryType: "Voucher",
    message: { channelId, cumulativeAmount: 12_000_000n },
  });
  // The voucher is the cap (charged so far + the request's ceiling); the provider claims what it charged.
  await send("provider-1", c.PaymentChannels.address, paymentChannelsAbi, "claim", [
    [{ config, cumulativeAmount: 12_000_000n, amount: 10_000_000n, signature }],
  ]);
  return { agentId, modelId, channelId };
}

test("indexes agents, models, stakes, offers, channels and claims, and resumes after a restart", async () => {
  const dbPath = join(mkdtempSync(join(tmpdir(), "verity-indexer-")), "index.sqlite");
  const first = await protocolTraffic(1);
  const indexer = createIndexer({ deployment, publicClient: t.publicClient, db: dbPath, batchBlocks: 7 });
  const applied = await indexer.syncOnce();
  assert.ok(applied >= 7, `applied ${applied}`);
  const row = (sql: string, ...p: string[]) => indexer.db.prepare(sql).get(...p) as Record<string, unknown>;
  assert.equal(
    row("SELECT owner FROM agents WHERE agent_id = ?", String(first.agentId)).owner,
    t.account("provider-1").address.toLowerCase(),
  );
  assert.equal(row("SELECT royalty_bps FROM models WHERE model_id = ?", String(first.modelId)).royalty_bps, 500);
  assert.equal(row("SELECT bonded FROM stakes WHERE agent_id = ?", String(first.agentId)).bonded, "200000000");
  assert.equal(
    row("SELECT endpoint, active FROM offers WHERE agent_id = ?", String(first.agentId)).endpoint,
    "http://127.0.0.1:9000",
  );
  const channel = row("SELECT deposit, claimed FROM channels WHERE channel_id = ?", first.channelId);
  assert.deepEqual({ ...channel }, { deposit: "50000000", claimed: "10000000" });
  const claim = row(
    "SELECT cumulative_amount, increase, provider_amount, royalty_amount, fee_amount FROM claims WHERE channel_id = ?",
    first.channelId,
  );
  assert.equal(claim.cumulative_amount, "10000000");
  assert.equal(
    BigInt(String(claim.provider_amount)) + BigInt(String(claim.royalty_amount)) + BigInt(String(claim.fee_amount)),
    BigInt(String(claim.increase)),
  );
  const cursor = indexer.cursor();
  await indexer.stop();
  indexer.db.close();

  // Restart on the same file: resumes from the cursor, applies only the new events, no duplicates.
  const second = await protocolTraffic(2);
  const resumed = createIndexer({ deployment, publicClient: t.publicClient, db: dbPath });
  assert.equal(resumed.cursor(), cursor);
  const more = await resumed.syncOnce();
  assert.ok(more > 0 && more < applied + 5);
  const count = resumed.db.prepare("SELECT COUNT(*) AS n FROM claims").get() as { n: number };
  assert.equal(count.n, 2);
  assert.ok(resumed.db.prepare("SELECT 1 FROM channels WHERE channel_id = ?").get(second.channelId));
  resumed.db.close();
});

test("keeps retrying with backoff while the RPC endpoint is down, then catches up", async () => {
  const server = createRpcServer({ provider: t.edr.provider, port: 0 });
  const url = await server.start();
  const port = Number(new URL(url).port);
  const publicClient = createPublicClient({
    chain: devnetChain({ rpcUrl: url }),
    transport: http(url, { retryCount: 0 }),
  });
  const errors: number[] = [];
  const indexer = createIndexer({
    deployment,
    publicClient,
    db: ":memory:",
    pollMs: 20,
    onError: (_e, retry) => errors.push(retry),
  });
  await indexer.syncOnce();
  await server.stop();
  await protocolTraffic(3);
  indexer.start();
  while (errors.length < 3) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(errors.slice(0, 3), [500, 1000, 2000]);
  const revived = createRpcServer({ provider: t.edr.provider, port });
  await revived.start();
  const head = Number(await t.publicClient.getBlockNumber());
  const deadline = Date.now() + 20_000;
  while (Number(indexer.cursor()) < head && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.equal(Number(indexer.cursor()), head);
  await indexer.stop();
  await revived.stop();
});
