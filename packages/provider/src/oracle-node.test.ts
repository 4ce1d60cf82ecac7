/**
 * End to end: a prediction market on the devnet contracts asks the inference oracle; a real
 * provider's oracle node answers with the tiny llama.cpp model, waits out the challenge window and
 * finalizes, and the market's callback resolves it with the model's answer.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { deploy } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import { inferenceOracleAbi, oracleMarketResolverAbi, testUSDAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import { maxUint256, parseEventLogs } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { createOracleNode, type OracleNode, type OracleNodeEvent } from "./oracle-node.ts";
import { mintTestUSD, startTestProvider, type TestProvider } from "./testing.ts";

let t: TestChain;
let deployment: Deployment;
let tp: TestProvider;
let node: OracleNode;
const events: OracleNodeEvent[] = [];

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
    onEvent: (e) => events.push(e),
  });
  await node.start();
});
after(async () => {
  await node.stop();
  await tp.close();
  await t.close();
});

const market = () => deployment.contracts.OracleMarketResolver?.address as `0x${string}`;

async function send(from: string, call: Parameters<ReturnType<TestChain["wallet"]>["writeContract"]>[0]) {
  const hash = await t.wallet(from).writeContract(call);
  const receipt = await t.publicClient.waitForTransactionReceipt({ hash });
  assert.equal(receipt.status, "success");
  return receipt;
}

test("request → answer by the oracle node → window → finalize → the market's callback resolves it", async () => {
  for (const name of ["client-1", "client-2"]) {
    await mintTestUSD(t, deployment, name, 1_000_000n);
    await send(name, {
      address: deployment.token.address,
      abi: testUSDAbi,
      functionName: "approve",
      args: [market(), maxUint256],
    } as never);
  }
  const latest = (await t.publicClient.getBlock()).timestamp;
  await send("client-1", {
    address: market(),
    abi: oracleMarketResolverAbi,
    functionName: "createMarket",
    args: ["Is the sky blue?", latest + 10n],
  } as never);
  await send("client-1", {
    address: market(),
    abi: oracleMarketResolverAbi,
    functionName: "bet",
    args: [1n, true, 300n],
  } as never);
  await send("client-2", {
    address: market(),
    abi: oracleMarketResolverAbi,
    functionName: "bet",
    args: [1n, false, 100n],
  } as never);
  await t.increaseTime(11n);
  const model = tp.info.models[0];
  assert.ok(model);
  const started = performance.now();
  const requested = await send("client-1", {
    address: market(),
    abi: oracleMarketResolverAbi,
    functionName: "requestResolution",
    args: [1n, model.modelId, model.offerId, 1_000n, 16, 7n, latest + 3_600n],
  } as never);
  const [request] = parseEventLogs({ abi: inferenceOracleAbi, logs: requested.logs, eventName: "OracleRequested" });
  assert.ok(request);
  const requestId = request.args.requestId;

  let outcome = 0;
  while (outcome === 0) {
    await new Promise((r) => setTimeout(r, 50));
    const m = await t.publicClient.readContract({
      address: market(),
      abi: oracleMarketResolverAbi,
      functionName: "getMarket",
      args: [1n],
    });
    outcome = m.outcome;
  }
  const requestToCallbackMs = performance.now() - started;
  const answered = events.find((e) => e.event === "answered" && e.requestId === requestId);
  const finalized = events.find((e) => e.event === "finalized" && e.requestId === requestId);
  assert.ok(answered && answered.event === "answered");
  assert.ok(finalized && finalized.event === "finalized");
  assert.equal(finalized.callback, true, "the market's callback ran");
  const state = await t.publicClient.readContract({
    address: deployment.contracts.InferenceOracle?.address as `0x${string}`,
    abi: inferenceOracleAbi,
    functionName: "getRequest",
    args: [requestId],
  });
  assert.equal(state.status, 5, "finalized");
  const expected = /^\s*yes/i.test(answered.answer) ? 1 : /^\s*no/i.test(answered.answer) ? 2 : 3;
  assert.equal(outcome, expected, `the market resolved from the model's answer ${JSON.stringify(answered.answer)}`);
  console.log(
    `oracle request → callback: ${Math.round(requestToCallbackMs)} ms (request → answer mined ${answered.latencyMs} ms, ` +
      "then a 1 s challenge window and finalize)",
  );
});

test("a fee that covers the quoted output but not the prompt tokens is skipped with oracle_fee_too_low", async () => {
  const oracle = deployment.contracts.InferenceOracle?.address as `0x${string}`;
  const model = tp.info.models[0];
  assert.ok(model);
  await send("client-1", {
    address: deployment.token.address,
    abi: testUSDAbi,
    functionName: "approve",
    args: [oracle, maxUint256],
  } as never);
  const latest = (await t.publicClient.getBlock()).timestamp;
  // 16 output tokens at 2 per token: the contract's least fee, with nothing left for the prompt.
  const receipt = await send("client-1", {
    address: oracle,
    abi: inferenceOracleAbi,
    functionName: "request",
    args: [
      {
        modelId: model.modelId,
        offerId: model.offerId,
        prompt: "0x48656c6c6f2c20776f726c64",
        promptHash: "0x0000000000000000000000000000000000000000000000000000000000000000",
        promptURI: "",
        maxTokens: 16,
        temperatureMilli: 700,
        topPMilli: 900,
        seed: 1n,
        fee: 32n,
        callback: "0x0000000000000000000000000000000000000000",
        callbackSelector: "0x00000000",
        callbackGasLimit: 0,
        deadline: latest + 3_600n,
      },
    ],
  } as never);
  const [request] = parseEventLogs({ abi: inferenceOracleAbi, logs: receipt.logs, eventName: "OracleRequested" });
  assert.ok(request);
  let skipped: OracleNodeEvent | undefined;
  while (!skipped) {
    await new Promise((r) => setTimeout(r, 50));
    skipped = events.find((e) => e.requestId === request.args.requestId);
  }
  assert.deepEqual(skipped, { event: "skipped", requestId: request.args.requestId, code: "oracle_fee_too_low" });
});
