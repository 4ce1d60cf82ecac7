import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createEdrChain, currentReceiverSigner, devnetAccounts, devnetChain } from "@verity/chain";
import { channelViewOf } from "@verity/chain/testing";
import { paymentChannelsAbi, stakingAbi, testUSDAbi } from "@verity/contracts";
import { type ChannelConfig, channelIdOf, type Deployment } from "@verity/core";
import { createVoucherFetch } from "@verity/sdk";
import OpenAI from "openai";
import {
  createPublicClient,
  createWalletClient,
  custom,
  http,
  keccak256,
  maxUint256,
  type PublicClient,
  toHex,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { createProgress } from "../progress.ts";
import { createDevnet, DEVNET_AUDIT_P, type DevnetReady } from "./devnet.ts";

const accounts = devnetAccounts();
const quiet = createProgress({ quiet: true });

function devnet(stateDir: string, extra: Partial<Parameters<typeof createDevnet>[0]> = {}) {
  return createDevnet({ port: 0, stateDir, providers: 2, progress: quiet, ...extra });
}

function reader(rpcUrl: string): PublicClient {
  return createPublicClient({ chain: devnetChain({ rpcUrl }), transport: http(rpcUrl) }) as PublicClient;
}

/** Token balances of every devnet account, the providers' stakes and one channel's on-chain record. */
async function chainState(client: PublicClient, deployment: Deployment, agentIds: bigint[], channelId: `0x${string}`) {
  return {
    tusd: await Promise.all(
      accounts.map((a) =>
        client.readContract({
          address: deployment.token.address,
          abi: testUSDAbi,
          functionName: "balanceOf",
          args: [a.address],
        }),
      ),
    ),
    stakes: await Promise.all(
      agentIds.map((id) =>
        client.readContract({
          address: deployment.contracts.Staking.address,
          abi: stakingAbi,
          functionName: "stakeOf",
          args: [id],
        }),
      ),
    ),
    channel: await channelViewOf({
      publicClient: client,
      paymentChannels: deployment.contracts.PaymentChannels.address,
      channelId: channelId,
    }),
  };
}

async function gatewayBalance(ready: DevnetReady): Promise<bigint> {
  const response = await fetch(`${ready.gatewayUrl}/v1/balance`, {
    headers: { authorization: `Bearer ${ready.gatewayApiKey}` },
  });
  assert.equal(response.status, 200);
  return BigInt(((await response.json()) as { balance: string }).balance);
}

async function chatViaGateway(ready: DevnetReady, content: string): Promise<void> {
  const client = new OpenAI({ baseURL: `${ready.gatewayUrl}/v1`, apiKey: ready.gatewayApiKey, maxRetries: 0 });
  const completion = await client.chat.completions.create({
    model: "verity-tiny",
    messages: [{ role: "user", content }],
    max_tokens: 8,
  });
  assert.ok((completion.usage?.completion_tokens ?? 0) > 0);
}

/** client-3 opens a channel to the first provider over JSON-RPC, as any outside wallet would. */
async function openChannel(ready: DevnetReady) {
  const key = accounts.find((a) => a.name === "client-3")?.privateKey as `0x${string}`;
  const account = privateKeyToAccount(key);
  const chain = devnetChain({ rpcUrl: ready.rpcUrl });
  const publicClient = reader(ready.rpcUrl);
  const wallet = createWalletClient({ chain, transport: http(ready.rpcUrl), account });
  const channels = ready.deployment.contracts.PaymentChannels.address;
  const provider = ready.providers[0] as DevnetReady["providers"][number];
  await publicClient.waitForTransactionReceipt({
    hash: await wallet.writeContract({
      address: ready.deployment.token.address,
      abi: testUSDAbi,
      functionName: "approve",
      args: [channels, maxUint256],
    }),
  });
  const config: ChannelConfig = {
    payer: account.address,
    payerAuthorizer: account.address,
    receiverAgentId: BigInt(provider.agentId),
    modelId: BigInt(provider.modelId),
    token: ready.deployment.token.address,
    withdrawDelay: 3_600n,
    salt: keccak256(toHex("devnet-restart")),
    receiverSigner: await currentReceiverSigner({
      publicClient,
      agentRegistry: ready.deployment.contracts.AgentRegistry.address,
      agentId: BigInt(provider.agentId),
    }),
  };
  await publicClient.waitForTransactionReceipt({
    hash: await wallet.writeContract({
      address: channels,
      abi: paymentChannelsAbi,
      functionName: "open",
      args: [config, 2_000_000n],
    }),
  });
  const payer = createVoucherFetch({
    channelId: channelIdOf(config),
    authorizer: account,
    chainId: ready.chainId,
    paymentChannels: channels,
    headroom: 10_000n,
  });
  return { channelId: channelIdOf(config), payer };
}

async function payDirect(url: string, payer: ReturnType<typeof createVoucherFetch>): Promise<void> {
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "x", fetch: payer.fetch, maxRetries: 0 });
  const completion = await client.chat.completions.create({
    model: "verity-tiny",
    messages: [{ role: "user", content: "pay the provider directly" }],
    max_tokens: 8,
  });
  assert.ok((completion.usage?.completion_tokens ?? 0) > 0);
}

/** The agent id of the gateway's signed Agent Card (the devnet gateway always has one). */
async function gatewayAgentId(ready: DevnetReady): Promise<string> {
  const card = (await (await fetch(`${ready.gatewayUrl}/.well-known/agent-card.json`)).json()) as {
    signatures: unknown[];
    capabilities: { extensions: { params?: { role?: string; agentId?: string } }[] };
  };
  assert.equal(card.signatures.length, 1);
  const verity = card.capabilities.extensions.find((e) => e.params?.role === "gateway");
  assert.match(verity?.params?.agentId ?? "", /^[1-9]\d*$/);
  return verity?.params?.agentId as string;
}

test("a devnet restarted on its state folder keeps chain, deployment, agents and API key, and still serves paid requests", async () => {
  const stateDir = mkdtempSync(join(tmpdir(), "verity-devnet-"));
  const first = devnet(stateDir);
  let ready: DevnetReady;
  let channel: Awaited<ReturnType<typeof openChannel>>;
  let prepaid: bigint;
  let gatewayCard: string;
  try {
    ready = await first.start();
    assert.equal(ready.restored, false);
    assert.deepEqual(
      ready.providers.map((p) => p.cheater),
      [false, false],
    );
    assert.equal(ready.explorerUrl, `${ready.gatewayUrl}/`);
    assert.ok(ready.validators.length >= 4, "a committee of three plus the challenger");
    for (const v of ready.validators) {
      assert.match(v.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(v.agentId, /^[1-9]\d*$/);
    }
    assert.equal(new Set(ready.validators.map((v) => v.agentId)).size, ready.validators.length);
    assert.equal(ready.audit.p, DEVNET_AUDIT_P);
    assert.equal(ready.audit.validatorUrl, `${ready.validators[0]?.url}/v1/audits`);
    await chatViaGateway(ready, "before the restart");
    gatewayCard = await gatewayAgentId(ready);
    channel = await openChannel(ready);
    await payDirect((ready.providers[0] as DevnetReady["providers"][number]).url, channel.payer);
    prepaid = await gatewayBalance(ready);
  } finally {
    await first.stop();
  }
  const agentIds = ready.providers.map((p) => BigInt(p.agentId));

  // What the chain held when the devnet stopped (after the providers' final claims), read from the journal alone.
  const saved = await createEdrChain({
    accounts: accounts.map((a) => ({ privateKey: a.privateKey, balance: 10_000n * 10n ** 18n })),
    journalDir: join(stateDir, "chain"),
  });
  const savedClient = createPublicClient({
    chain: devnetChain({}),
    transport: custom(saved.provider),
  }) as PublicClient;
  const atStop = await chainState(savedClient, ready.deployment, agentIds, channel.channelId);
  const stopHead = await savedClient.getBlock();
  await saved.close();
  assert.ok(atStop.channel.claimed > 0n, "the final claim settled the direct request");

  const second = devnet(stateDir);
  try {
    const again = await second.start();
    assert.equal(again.restored, true);
    assert.deepEqual(again.deployment, ready.deployment);
    assert.deepEqual(
      again.providers.map((p) => [p.agentId, p.address, p.modelId, p.priceOut]),
      ready.providers.map((p) => [p.agentId, p.address, p.modelId, p.priceOut]),
    );
    assert.equal(again.gatewayApiKey, ready.gatewayApiKey);
    assert.deepEqual(
      again.validators.map((v) => [v.name, v.agentId, v.address]),
      ready.validators.map((v) => [v.name, v.agentId, v.address]),
      "the validators keep their agents and bonds",
    );
    assert.equal(await gatewayBalance(again), prepaid);
    const client = reader(again.rpcUrl);
    assert.equal((await client.getBlock({ blockNumber: stopHead.number })).hash, stopHead.hash);
    assert.deepEqual(await chainState(client, again.deployment, agentIds, channel.channelId), atStop);

    // The network still serves paid requests: through the gateway on the same key, and on the same channel.
    assert.equal(await gatewayAgentId(again), gatewayCard, "the gateway keeps its agent id and card");
    await chatViaGateway(again, "after the restart");
    assert.ok((await gatewayBalance(again)) < prepaid);
    await payDirect((again.providers[0] as DevnetReady["providers"][number]).url, channel.payer);
  } finally {
    await second.stop();
  }

  await assert.rejects(devnet(stateDir, { chainId: 1337 }).start(), (e: { code?: string; message: string }) => {
    assert.equal(e.code, "state_dir_chain_mismatch");
    assert.match(e.message, /--state-dir/);
    return true;
  });
});

test("a port already in use fails with port_in_use naming the port and --port-base", async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  const port = (blocker.address() as { port: number }).port;
  const stateDir = mkdtempSync(join(tmpdir(), "verity-devnet-"));
  const net = createDevnet({ portBase: port, stateDir, providers: 1, progress: quiet });
  try {
    await assert.rejects(net.start(), (e: { code?: string; message: string }) => {
      assert.equal(e.code, "port_in_use");
      assert.match(e.message, new RegExp(`Port ${port} .*--port-base`));
      return true;
    });
  } finally {
    await net.stop();
    blocker.close();
  }
});
