/**
 * The explorer's oracle API on a real chain: a prediction market asks the inference oracle, a real
 * provider's oracle node answers with the tiny llama.cpp model and finalizes, and the gateway's
 * indexer shows the request's whole life; a second request the node refuses stays `requested`.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { deploy } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import { inferenceOracleAbi, oracleMarketResolverAbi, testUSDAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import { maxUint256, parseEventLogs, toHex, zeroAddress, zeroHash } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { createOracleNode, type OracleNode } from "../../provider/src/oracle-node.ts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import type { OracleRequestRow } from "./explorer-oracle.ts";
import { createGateway, type Gateway } from "./gateway.ts";
import { gatewayStateDir } from "./store/store-testing.ts";

let t: TestChain;
let deployment: Deployment;
let tp: TestProvider;
let node: OracleNode;
let gateway: Gateway;
let url: string;

const get = async (path: string) => {
  const response = await fetch(`${url}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

async function until<T>(probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("timed out");
}

async function send(from: string, call: Parameters<ReturnType<TestChain["wallet"]>["writeContract"]>[0]) {
  const hash = await t.wallet(from).writeContract(call);
  const receipt = await t.publicClient.waitForTransactionReceipt({ hash });
  assert.equal(receipt.status, "success");
  return receipt;
}

const market = () => deployment.contracts.OracleMarketResolver?.address as `0x${string}`;
const oracle = () => deployment.contracts.InferenceOracle?.address as `0x${string}`;

before(async () => {
  t = await createTestChain();
  deployment = await deploy({
    provider: t.edr.provider,
    deployer: t.account("deployer").privateKey,
    params: { oracleChallengeWindow: 1n },
  });
  tp = await startTestProvider({ t, deployment });
  node = createOracleNode({
    deployment,
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account("provider-1").privateKey),
    agentId: tp.info.agentId,
    engines: tp.engines,
    pollMs: 50,
  });
  await node.start();
  gateway = createGateway({
    allowPrivateEndpoints: true,
    deployment,
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account("gateway").privateKey),
    stateDir: await gatewayStateDir("verity-explorer-oracle-"),
    indexerPollMs: 50,
    probeIntervalMs: 200,
    x402: false,
    explorer: false,
  });
  url = (await gateway.start()).url;
});

after(async () => {
  await gateway.stop();
  await node.stop();
  await tp.close();
  await t.close();
});

test("a request answered and finalized by the oracle node shows its answer, payout, callback and timeline", async () => {
  await mintTestUSD(t, deployment, "client-1", 1_000_000n);
  for (const spender of [market(), oracle()]) {
    await send("client-1", {
      address: deployment.token.address,
      abi: testUSDAbi,
      functionName: "approve",
      args: [spender, maxUint256],
    } as never);
  }
  const latest = (await t.publicClient.getBlock()).timestamp;
  await send("client-1", {
    address: market(),
    abi: oracleMarketResolverAbi,
    functionName: "createMarket",
    args: ["Is the sky blue?", latest + 10n],
  } as never);
  await t.increaseTime(11n);
  const model = tp.info.models[0];
  assert.ok(model);
  const requested = await send("client-1", {
    address: market(),
    abi: oracleMarketResolverAbi,
    functionName: "requestResolution",
    args: [1n, model.modelId, model.offerId, 1_000n, 16, 7n, latest + 3_600n],
  } as never);
  const [event] = parseEventLogs({ abi: inferenceOracleAbi, logs: requested.logs, eventName: "OracleRequested" });
  assert.ok(event);
  const id = event.args.requestId.toString();

  const row = await until(async () => {
    const { status, body } = await get(`/api/oracle/${id}`);
    const r = body as unknown as OracleRequestRow;
    return status === 200 && r.status === "finalized" && r.callbackOk !== null ? r : undefined;
  });
  assert.equal(row.requester.toLowerCase(), market().toLowerCase(), "the market contract asked");
  assert.deepEqual([row.modelId, row.offerId, row.fee], [model.modelId.toString(), model.offerId.toString(), "1000"]);
  assert.equal(row.answer?.agentId, tp.info.agentId.toString(), "answered by the provider's agent");
  assert.ok((row.answer?.text.length ?? 0) > 0, "the model's answer as text");
  assert.equal(row.callbackOk, true, "the market's callback ran");
  assert.equal(row.callbackTarget?.toLowerCase(), market().toLowerCase());
  assert.equal(row.challenge, null);
  const payout = row.payout;
  assert.ok(payout);
  assert.equal(BigInt(payout.provider) + BigInt(payout.royalty) + BigInt(payout.protocolFee), 1_000n);
  const { requested: r0, answered: r1, finalized: r2 } = row.timeline;
  assert.equal(r0.txHash, requested.transactionHash);
  assert.ok(r1 && r2 && r0.block < r1.block && r1.block < r2.block, "request → answer → finalize, in order");
  assert.ok(r2.at > r1.at, "finalized after the challenge window");
  const onChain = await t.publicClient.readContract({
    address: market(),
    abi: oracleMarketResolverAbi,
    functionName: "getMarket",
    args: [1n],
  });
  assert.notEqual(onChain.outcome, 0, "the market resolved");
});

test("the list pages newest first, filters by status and refuses a bad query with invalid_request", async () => {
  const model = tp.info.models[0];
  assert.ok(model);
  const latest = (await t.publicClient.getBlock()).timestamp;
  // A fee the contract accepts but the node skips (it does not cover the prompt tokens): stays open.
  const receipt = await send("client-1", {
    address: oracle(),
    abi: inferenceOracleAbi,
    functionName: "request",
    args: [
      {
        modelId: model.modelId,
        offerId: model.offerId,
        prompt: toHex("Hello, world"),
        promptHash: zeroHash,
        promptURI: "",
        maxTokens: 16,
        temperatureMilli: 0,
        topPMilli: 1000,
        seed: 1n,
        fee: 32n,
        callback: zeroAddress,
        callbackSelector: "0x00000000",
        callbackGasLimit: 0,
        deadline: latest + 3_600n,
      },
    ],
  } as never);
  const [event] = parseEventLogs({ abi: inferenceOracleAbi, logs: receipt.logs, eventName: "OracleRequested" });
  const id = event?.args.requestId.toString();
  const page = await until(async () => {
    const { body } = await get("/api/oracle?limit=1");
    return body.total === 2 ? body : undefined;
  });
  const [newest] = page.data as OracleRequestRow[];
  assert.deepEqual(
    [newest?.requestId, newest?.status, newest?.prompt, newest?.callbackTarget],
    [id, "requested", "Hello, world", null],
  );
  assert.equal(page.next, id);
  const second = await get(`/api/oracle?limit=1&before=${page.next}`);
  assert.deepEqual(
    [(second.body.data as OracleRequestRow[]).map((r) => r.status), second.body.next],
    [["finalized"], null],
  );
  const finalized = await get("/api/oracle?status=finalized");
  assert.deepEqual(
    (finalized.body.data as OracleRequestRow[]).map((r) => r.requestId),
    [(second.body.data as OracleRequestRow[])[0]?.requestId],
  );
  const mine = await get(`/api/oracle?agent=${tp.info.agentId}`);
  assert.deepEqual(
    (mine.body.data as OracleRequestRow[]).map((r) => r.status),
    ["finalized"],
    "only the request the provider answered",
  );
  assert.equal((await get("/api/oracle?agent=999")).body.total, 0);
  for (const bad of ["limit=0", "agent=-1", "limit=101", "before=abc", "status=lost"]) {
    const { status, body } = await get(`/api/oracle?${bad}`);
    assert.equal(status, 400, bad);
    assert.equal((body.error as { code: string }).code, "invalid_request", bad);
  }
  const missing = await get("/api/oracle/999");
  assert.equal(missing.status, 404);
  assert.equal((missing.body.error as { code: string }).code, "not_found");
  assert.equal((await get("/api/oracle/0x1")).status, 400);
});
