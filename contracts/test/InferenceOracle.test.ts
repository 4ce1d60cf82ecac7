/** InferenceOracle: request → answer → challenge window → finalize → callback, and every refusal. */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { encodeFunctionData, keccak256, parseEventLogs, toHex, zeroHash } from "viem";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { inferenceOracleAbi } from "../generated/index.ts";
import { ANSWER, type OracleScene, oracleScene } from "./oracle-helpers.ts";

describe("InferenceOracle", () => {
  let t: TestChain;
  let s: OracleScene;

  before(async () => {
    t = await createTestChain();
    s = await oracleScene(t);
  });
  beforeEach(() => s.reset());
  after(() => t.close());

  const balances = async (names: string[]) =>
    Promise.all(names.map((n) => s.f.balanceOf(n === "oracle" ? s.oracleAddress : t.account(n).address)));

  test("request → answer → window → finalize pays the royalty split, returns the bond and calls back", async () => {
    const before = await balances(["client-1", "provider-1", "modelOwner", "treasury", "oracle"]);
    const { requestId, params } = await s.request();
    assert.equal(await s.f.balanceOf(s.oracleAddress), (before[4] ?? 0n) + params.fee);
    const answered = await s.f.mined(s.answer(requestId, params));
    const [event] = parseEventLogs({ abi: inferenceOracleAbi, logs: answered.logs, eventName: "OracleAnswered" });
    assert.equal(event?.args.answer, ANSWER);
    assert.equal(await s.f.balanceOf(s.oracleAddress), (before[4] ?? 0n) + params.fee + s.answerBond);
    await expectRevert(s.oracle("client-2").write.finalize([requestId]), "OracleChallengeWindowOpen");
    await t.increaseTime(s.challengeWindow + 1n);
    const done = await s.f.mined(s.oracle("client-2").write.finalize([requestId]));
    const [paid] = parseEventLogs({ abi: inferenceOracleAbi, logs: done.logs, eventName: "OracleFinalized" });
    const [called] = parseEventLogs({ abi: inferenceOracleAbi, logs: done.logs, eventName: "OracleCallback" });
    assert.equal(called?.args.success, true);
    // fee 100: protocol fee 1% → 1, royalty 5% → 5, provider 94.
    assert.deepEqual([paid?.args.providerAmount, paid?.args.royaltyAmount, paid?.args.feeAmount], [94n, 5n, 1n]);
    const afterBalances = await balances(["client-1", "provider-1", "modelOwner", "treasury", "oracle"]);
    assert.deepEqual(
      afterBalances.map((b, i) => b - (before[i] as bigint)),
      [-100n, 94n, 5n, 1n, 0n],
    );
    assert.equal(await s.callbackProbe().read.lastRequestId(), requestId);
    assert.equal(await s.callbackProbe().read.lastAnswer(), ANSWER);
    assert.equal((await s.oracle("deployer").read.getRequest([requestId])).status, 5);
    await expectRevert(s.oracle("client-2").write.finalize([requestId]), "OracleWrongStatus");
  });

  test("a prompt given by hash and URI, and a request without callback", async () => {
    const promptHash = keccak256(toHex("off-chain prompt"));
    const { requestId, params } = await s.request({
      prompt: "0x",
      promptHash,
      promptURI: "ipfs://prompt",
      callback: s.zeroAddress,
      callbackSelector: "0x00000000",
      callbackGasLimit: 0,
    });
    await s.f.mined(s.answer(requestId, params));
    await t.increaseTime(s.challengeWindow + 1n);
    const done = await s.f.mined(s.oracle("client-1").write.finalize([requestId]));
    assert.equal(parseEventLogs({ abi: inferenceOracleAbi, logs: done.logs, eventName: "OracleCallback" }).length, 0);
  });

  test("a fee below the offer's price for maxTokens is refused", async () => {
    // 16 output tokens at 1 per token: 16 is the least fee.
    await expectRevert(s.request({ fee: 15n }), "OracleFeeTooLow");
    await s.request({ fee: 16n });
    // At answer time the prompt tokens count too: 12 prompt tokens cost 0.0012 → rounded up to 1 more.
    const { requestId, params } = await s.request({ fee: 16n });
    await expectRevert(s.answer(requestId, params), "OracleFeeTooLow");
  });

  test("malformed requests are refused", async () => {
    await expectRevert(s.request({ prompt: "0x" }), "OracleInvalidPrompt");
    await expectRevert(s.request({ promptHash: keccak256("0x01") }), "OracleInvalidPrompt");
    const latest = (await s.f.publicClient.getBlock()).timestamp;
    await expectRevert(s.request({ deadline: latest }), "OracleDeadlineInvalid");
    await expectRevert(s.request({ callbackGasLimit: 2_000_000 }), "OracleInvalidCallback");
    await expectRevert(s.request({ callbackSelector: "0x00000000" }), "OracleInvalidCallback");
    await expectRevert(s.request({ offerId: 99n }), "OracleUnknownOffer");
    const otherModel = await s.f.registerModel("modelOwner", 0);
    await expectRevert(s.request({ modelId: otherModel }), "OracleUnknownOffer");
  });

  test("an answer after the deadline is refused, and the unanswered request is refunded", async () => {
    const { requestId, params } = await s.request();
    await expectRevert(s.oracle("client-1").write.refund([requestId]), "OracleNotRefundable");
    await t.increaseTime(3601n);
    await expectRevert(s.answer(requestId, params), "OracleDeadlinePassed");
    const before = await s.f.balanceOf(t.account("client-1").address);
    await s.f.mined(s.oracle("client-2").write.refund([requestId]));
    assert.equal(await s.f.balanceOf(t.account("client-1").address), before + params.fee);
    await expectRevert(s.oracle("client-2").write.refund([requestId]), "OracleWrongStatus");
    await expectRevert(s.answer(requestId, params), "OracleAlreadyAnswered");
  });

  test("the first valid answer wins; answers that do not match the request are refused", async () => {
    const { requestId, params } = await s.request();
    await expectRevert(s.answer(999n, params), "OracleUnknownRequest");
    await expectRevert(s.answer(requestId, params, { answer: "0x" }), "OracleAnswerInvalid");
    await expectRevert(s.answer(requestId, params, { receipt: { paramsHash: zeroHash } }), "OracleReceiptMismatch");
    await expectRevert(s.answer(requestId, params, { receipt: { completionTokens: 17 } }), "OracleReceiptMismatch");
    await expectRevert(s.answer(requestId, params, { receipt: { charge: 1n } }), "OracleReceiptMismatch");
    await expectRevert(s.answer(requestId, params, { signer: "client-2" }), "OracleReceiptSignatureInvalid");
    await expectRevert(s.answer(requestId, params, { from: "client-2" }), "OracleNotProvider");
    await s.f.mined(s.answer(requestId, params));
    await expectRevert(s.answer(requestId, params), "OracleAlreadyAnswered");
  });

  test("a provider whose offers a dispute paused may not answer", async () => {
    const { requestId, params } = await s.request();
    await s.f.mined((await s.f.asDisputes()).write.pauseOffers([s.agentId]));
    await expectRevert(s.answer(requestId, params), "OracleNotStaked");
  });

  test("a wrong answer challenged and found guilty: fee back to the requester, bonds to the challenger", async () => {
    const { requestId, params } = await s.request();
    await s.f.mined(s.answer(requestId, params, { answer: toHex("no") }));
    const before = await balances(["client-1", "provider-1", "client-2", "oracle"]);
    await s.f.mined(s.oracle("client-2").write.challenge([requestId]));
    await expectRevert(s.oracle("client-2").write.challenge([requestId]), "OracleWrongStatus");
    await expectRevert(s.oracle("client-2").write.resolveChallenge([requestId, true]), "OracleNotResolver");
    await t.increaseTime(s.challengeWindow + 1n);
    await expectRevert(s.oracle("client-2").write.finalize([requestId]), "OracleWrongStatus");
    await s.f.mined(s.oracle("deployer").write.resolveChallenge([requestId, true]));
    const afterBalances = await balances(["client-1", "provider-1", "client-2", "oracle"]);
    assert.deepEqual(
      afterBalances.map((b, i) => b - (before[i] as bigint)),
      [params.fee, 0n, s.answerBond, -(params.fee + s.answerBond)],
    );
    assert.equal(await s.callbackProbe().read.calls(), 0n, "a rejected answer never reaches the callback");
    await expectRevert(s.oracle("client-2").write.finalize([requestId]), "OracleWrongStatus");
  });

  test("a challenge the resolver dismisses pays the challenge bond to the answerer and finalizes at once", async () => {
    const { requestId, params } = await s.request();
    await s.f.mined(s.answer(requestId, params));
    await s.f.mined(s.oracle("client-2").write.challenge([requestId]));
    const before = await s.f.balanceOf(t.account("provider-1").address);
    await s.f.mined(s.oracle("deployer").write.resolveChallenge([requestId, false]));
    assert.equal(await s.f.balanceOf(t.account("provider-1").address), before + s.challengeBond);
    await s.f.mined(s.oracle("client-1").write.finalize([requestId]));
    assert.equal(await s.callbackProbe().read.calls(), 1n);
  });

  test("a challenge after the window is refused; an undecided challenge refunds everyone after the timeout", async () => {
    const late = await s.request();
    await s.f.mined(s.answer(late.requestId, late.params));
    await t.increaseTime(s.challengeWindow + 1n);
    await expectRevert(s.oracle("client-2").write.challenge([late.requestId]), "OracleChallengeWindowClosed");

    const { requestId, params } = await s.request();
    await s.f.mined(s.answer(requestId, params));
    await s.f.mined(s.oracle("client-2").write.challenge([requestId]));
    const before = await balances(["client-1", "provider-1", "client-2"]);
    await expectRevert(s.oracle("client-2").write.refund([requestId]), "OracleNotRefundable");
    await t.increaseTime(s.resolveTimeout + 1n);
    await expectRevert(s.oracle("deployer").write.resolveChallenge([requestId, true]), "OracleChallengeWindowClosed");
    await s.f.mined(s.oracle("client-2").write.refund([requestId]));
    const afterBalances = await balances(["client-1", "provider-1", "client-2"]);
    assert.deepEqual(
      afterBalances.map((b, i) => b - (before[i] as bigint)),
      [params.fee, s.answerBond, s.challengeBond],
    );
  });

  for (const [mode, what] of [
    [1, "reverts"],
    [2, "runs out of gas"],
    [4, "returns a huge payload"],
  ] as const) {
    test(`a callback that ${what} is recorded and cannot block the payments`, async () => {
      await s.f.mined(s.callbackProbe().write.setMode([mode, "0x"]));
      const { requestId, params } = await s.request({ callbackGasLimit: 300_000 });
      await s.f.mined(s.answer(requestId, params));
      await t.increaseTime(s.challengeWindow + 1n);
      const before = await s.f.balanceOf(t.account("provider-1").address);
      const done = await s.f.mined(s.oracle("client-2").write.finalize([requestId], { gas: 1_000_000n }));
      const [called] = parseEventLogs({ abi: inferenceOracleAbi, logs: done.logs, eventName: "OracleCallback" });
      assert.equal(called?.args.success, mode === 4);
      assert.equal(await s.f.balanceOf(t.account("provider-1").address), before + 94n + s.answerBond);
      if (mode === 2) assert.ok(done.gasUsed > 300_000n && done.gasUsed < 1_000_000n, "the callback got its limit");
    });
  }

  test("finalize with too little gas for the callback's limit is refused, not run with a starved callback", async () => {
    const { requestId, params } = await s.request({ callbackGasLimit: 900_000 });
    await s.f.mined(s.answer(requestId, params));
    await t.increaseTime(s.challengeWindow + 1n);
    await expectRevert(s.oracle("client-2").write.finalize([requestId], { gas: 400_000n }), "OracleInsufficientGas");
    await s.f.mined(s.oracle("client-2").write.finalize([requestId], { gas: 1_500_000n }));
    assert.equal(await s.callbackProbe().read.calls(), 1n);
  });

  test("a callback re-entering finalize or refund cannot pay twice", async () => {
    const { requestId, params } = await s.request();
    const other = await s.request();
    for (const data of [
      encodeFunctionData({ abi: inferenceOracleAbi, functionName: "finalize", args: [requestId] }),
      encodeFunctionData({ abi: inferenceOracleAbi, functionName: "refund", args: [other.requestId] }),
    ]) {
      await s.f.mined(s.callbackProbe().write.setMode([3, data]));
      const snapshot = await t.snapshot();
      await s.f.mined(s.answer(requestId, params));
      await t.increaseTime(4000n);
      const before = await s.f.balanceOf(s.oracleAddress);
      const done = await s.f.mined(s.oracle("client-2").write.finalize([requestId]));
      const [called] = parseEventLogs({ abi: inferenceOracleAbi, logs: done.logs, eventName: "OracleCallback" });
      assert.equal(called?.args.success, true);
      assert.equal(await s.callbackProbe().read.reentered(), false, "the re-entrant call was refused");
      assert.equal(await s.f.balanceOf(s.oracleAddress), before - params.fee - s.answerBond);
      await snapshot();
    }
  });
});
