/**
 * InferenceOracle attacks: stolen or replayed receipts, boundary races between answer and refund
 * and between challenge and finalize, and a resolver trying to pay itself.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { privateKeyToAccount } from "viem/accounts";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { receiptDomain, receiptTypes } from "../../packages/core/src/receipt.ts";
import { ANSWER, type OracleScene, oracleScene } from "./oracle-helpers.ts";

describe("InferenceOracle attacks", () => {
  let t: TestChain;
  let s: OracleScene;

  before(async () => {
    t = await createTestChain();
    s = await oracleScene(t);
  });
  beforeEach(() => s.reset());
  after(() => t.close());

  test("a front-runner copying a provider's signed answer from the mempool is refused", async () => {
    const { requestId, params } = await s.request();
    // provider-2 owns no agent with the offer: the receipt is valid, the sender is not the provider.
    await expectRevert(s.answer(requestId, params, { from: "provider-2" }), "OracleNotProvider");
  });

  test("a receipt signed for one request does not answer another", async () => {
    const a = await s.request();
    const b = await s.request();
    const receipt = s.receiptFor(a.requestId, a.params, ANSWER);
    const signature = await s.sign(receipt);
    await expectRevert(
      s.oracle("provider-1").write.answer([b.requestId, s.offerId, ANSWER, receipt, signature]),
      "OracleReceiptMismatch",
    );
  });

  test("a receipt signed in the payment-channel receipt domain is not an oracle receipt", async () => {
    const { requestId, params } = await s.request();
    const receipt = s.receiptFor(requestId, params, ANSWER);
    const signature = await privateKeyToAccount(t.account("provider-1").privateKey).signTypedData({
      domain: receiptDomain({ chainId: t.chain.id, verifyingContract: s.f.addresses.paymentChannels }),
      types: receiptTypes,
      primaryType: "Receipt",
      message: receipt,
    });
    await expectRevert(
      s.oracle("provider-1").write.answer([requestId, s.offerId, ANSWER, receipt, signature]),
      "OracleReceiptSignatureInvalid",
    );
  });

  test("at the deadline second an answer wins over a refund; one second later only the refund", async () => {
    const { requestId, params } = await s.request();
    await t.testClient.setNextBlockTimestamp({ timestamp: params.deadline });
    await s.f.mined(s.answer(requestId, params));
    await expectRevert(s.oracle("client-1").write.refund([requestId]), "OracleWrongStatus");

    const late = await s.request();
    await t.testClient.setNextBlockTimestamp({ timestamp: late.params.deadline + 1n });
    await expectRevert(s.answer(late.requestId, late.params), "OracleDeadlinePassed");
    await s.f.mined(s.oracle("client-1").write.refund([late.requestId]));
  });

  test("at the last second of the window a challenge is accepted and finalize is not", async () => {
    const { requestId, params } = await s.request();
    const answered = await s.f.mined(s.answer(requestId, params));
    const at = (await s.f.publicClient.getBlock({ blockNumber: answered.blockNumber })).timestamp;
    await t.testClient.setNextBlockTimestamp({ timestamp: at + s.challengeWindow });
    await expectRevert(s.oracle("client-1").write.finalize([requestId]), "OracleChallengeWindowOpen");
    await t.testClient.setNextBlockTimestamp({ timestamp: at + s.challengeWindow });
    await s.f.mined(s.oracle("client-2").write.challenge([requestId]));
  });

  test("the resolver's verdict pays only the requester, the challenger and the answerer", async () => {
    const resolver = t.account("deployer").address;
    for (const guilty of [true, false]) {
      const { requestId, params } = await s.request();
      await s.f.mined(s.answer(requestId, params));
      await s.f.mined(s.oracle("client-2").write.challenge([requestId]));
      const before = await s.f.balanceOf(resolver);
      await s.f.mined(s.oracle("deployer").write.resolveChallenge([requestId, guilty]));
      assert.equal(await s.f.balanceOf(resolver), before);
      await expectRevert(s.oracle("deployer").write.resolveChallenge([requestId, guilty]), "OracleWrongStatus");
    }
  });

  test("the oracle's balance always equals what its open requests escrow", async () => {
    const start = await s.f.balanceOf(s.oracleAddress);
    const open = await s.request();
    const answered = await s.request();
    await s.f.mined(s.answer(answered.requestId, answered.params));
    const challenged = await s.request();
    await s.f.mined(s.answer(challenged.requestId, challenged.params));
    await s.f.mined(s.oracle("client-2").write.challenge([challenged.requestId]));
    const fee = open.params.fee;
    assert.equal(await s.f.balanceOf(s.oracleAddress), start + 3n * fee + 2n * s.answerBond + s.challengeBond);
    await t.increaseTime(s.resolveTimeout + 1n);
    await s.f.mined(s.oracle("client-1").write.refund([open.requestId]));
    await s.f.mined(s.oracle("client-1").write.finalize([answered.requestId]));
    await s.f.mined(s.oracle("client-1").write.refund([challenged.requestId]));
    assert.equal(await s.f.balanceOf(s.oracleAddress), start);
  });
});
