/**
 * PaymentChannels stores only a channel's state; its terms (`ChannelConfig`, whose hash is the
 * channel id) come in calldata with every call. These attacks present forged terms: a payer naming
 * itself as the receipt signer at open (to forge receipts and slash the provider), a receiver
 * claiming with its own key as the payer's authorizer, a stranger withdrawing or topping up under
 * terms that name it as payer, a challenger pairing a self-signed receipt with terms naming it as
 * the signer. Terms that were not opened hash to an id with no state, so each call fails and
 * moves nothing.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { type Address, keccak256, parseEventLogs, toFunctionSelector, toHex } from "viem";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { paymentChannelsAbi } from "../generated/index.ts";
import { type DisputeScene, disputeScene, signReceipt } from "./disputes-helpers.ts";
import { type ChannelConfig, deployFixture, type Fixture, rewinder } from "./fixture.ts";
import { signVoucher } from "./signing.ts";

const STAKE = 500_000_000n;
const DEPOSIT = 1_000_000n;

describe("channel terms passed in calldata", () => {
  let t: TestChain;
  let f: Fixture;
  let s: DisputeScene;
  let reset: () => Promise<void>;
  const who = (name: string) => t.account(name).address;

  before(async () => {
    t = await createTestChain();
    f = await deployFixture(t);
    s = await disputeScene(t, f, STAKE);
    await f.fund(["client-4", "provider-2"], 100n * DEPOSIT, f.addresses.paymentChannels);
    reset = rewinder(t);
  });
  beforeEach(() => reset());
  after(() => t.close());

  const watched = () => [
    who("client-1"),
    who("client-4"),
    who("provider-1"),
    who("provider-2"),
    who("modelOwner"),
    f.addresses.treasury,
    f.addresses.paymentChannels,
    f.addresses.disputes,
  ];
  const balances = (accounts: Address[]) => Promise.all(accounts.map((a) => f.balanceOf(a)));
  const voucherBy = (key: string, channelId: `0x${string}`, cumulativeAmount: bigint) =>
    signVoucher(
      t.account(key).privateKey,
      { chainId: t.chain.id, verifyingContract: f.addresses.paymentChannels },
      { channelId, cumulativeAmount },
    );

  test("attack: a payer opens naming itself as the receipt signer, to forge receipts and slash the provider", async () => {
    const forged = f.channelConfig("client-4", s.agentId, s.modelId, { salt: 7, receiverSigner: who("client-4") });
    await expectRevert(f.as("client-4").channels.write.open([forged, DEPOSIT]), "ReceiverSignerMismatch");
    // Once the agent has a wallet, the owner no longer signs for new channels either.
    await f.setAgentWallet("provider-1", s.agentId, "provider-2");
    const stale = f.channelConfig("client-4", s.agentId, s.modelId, { salt: 8, receiverSigner: who("provider-1") });
    await expectRevert(f.as("client-4").channels.write.open([stale, DEPOSIT]), "ReceiverSignerMismatch");
    const current = f.channelConfig("client-4", s.agentId, s.modelId, { salt: 9, receiverSigner: who("provider-2") });
    await f.mined(f.as("client-4").channels.write.open([current, DEPOSIT]));
  });

  test("attack: the receiver claims with terms naming its own key as the payer's authorizer", async () => {
    const real = f.cfg(s.channelId);
    const before = await balances(watched());
    // Same channel, authorizer replaced by the receiver's key: another id, never opened.
    const forged: ChannelConfig = { ...real, payerAuthorizer: who("provider-1") };
    const id = await f.channelIdOf(forged);
    const signature = await voucherBy("provider-1", id, DEPOSIT);
    await expectRevert(
      f
        .as("provider-1")
        .channels.write.claim([[{ config: forged, cumulativeAmount: DEPOSIT, amount: DEPOSIT, signature }]]),
      "ChannelNotFound",
    );
    // In a batch beside an honest claim it is skipped and moves nothing.
    const honest = await f.voucherClaim({ channelId: s.channelId, cumulativeAmount: 5_000n, signer: "client-1" });
    const receipt = await f.mined(
      f
        .as("provider-1")
        .channels.write.claim([[honest, { config: forged, cumulativeAmount: DEPOSIT, amount: DEPOSIT, signature }]]),
    );
    const skipped = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "ClaimSkipped" });
    assert.deepEqual(
      skipped.map((e) => e.args),
      [{ channelId: id, reason: toFunctionSelector("ChannelNotFound(bytes32)") }],
    );
    await f.payOut();
    const delta = (await balances(watched())).map((v, i) => v - (before[i] ?? 0n));
    assert.deepEqual(delta, [0n, 0n, 5_000n - 50n - 250n, 0n, 250n, 50n, -5_000n, 0n]);
    assert.equal((await f.channelView(s.channelId)).claimed, 5_000n);
  });

  test("attack: a receiver claims a channel under terms naming another agent or model it controls", async () => {
    const real = f.cfg(s.channelId);
    const other = await f.registerAgent("provider-2");
    for (const forged of [
      { ...real, receiverAgentId: other, receiverSigner: who("provider-2") },
      { ...real, modelId: real.modelId + 1n },
      { ...real, token: f.addresses.staking },
      { ...real, withdrawDelay: real.withdrawDelay + 1n },
    ]) {
      const id = await f.channelIdOf(forged);
      const signature = await voucherBy("client-1", id, DEPOSIT);
      await expectRevert(
        f
          .as("provider-2")
          .channels.write.claim([[{ config: forged, cumulativeAmount: DEPOSIT, amount: DEPOSIT, signature }]]),
        "ChannelNotFound",
      );
    }
    assert.equal((await f.channelView(s.channelId)).claimed, 0n);
    assert.equal(await f.balanceOf(f.addresses.paymentChannels), 10_000_000n);
  });

  test("attack: a stranger withdraws or cancels the payer's withdrawal under terms naming it as payer", async () => {
    const real = f.cfg(s.channelId);
    const forged: ChannelConfig = { ...real, payer: who("client-4") };
    await expectRevert(f.as("client-4").channels.write.initiateWithdraw([forged]), "ChannelNotFound");
    await expectRevert(f.as("client-4").channels.write.finalizeWithdraw([forged]), "ChannelNotFound");
    await expectRevert(f.as("client-4").channels.write.topUp([forged, 1n]), "ChannelNotFound");
    // With the real terms a stranger is not the payer: it can neither start nor cancel the withdrawal.
    await expectRevert(f.as("client-4").channels.write.initiateWithdraw([real]), "NotPayer");
    await f.mined(f.as("client-1").channels.write.initiateWithdraw([real]));
    const pending = await f.as("client-1").channels.read.withdrawableAt([s.channelId]);
    await f.mined(f.as("client-4").channels.write.topUp([real, 1n]));
    assert.equal(await f.as("client-1").channels.read.withdrawableAt([s.channelId]), pending);
    // The refund goes to the payer the terms name, whoever finalizes.
    await t.increaseTime(f.params.maxWithdrawDelay);
    const payerBefore = await f.balanceOf(who("client-1"));
    await f.mined(f.as("client-4").channels.write.finalizeWithdraw([real]));
    assert.equal(await f.balanceOf(who("client-1")), payerBefore + 10_000_000n + 1n);
    assert.equal(await f.balanceOf(f.addresses.paymentChannels), 0n);
  });

  test("attack: a challenger pairs a self-signed receipt with terms naming it as the receipt signer", async () => {
    const real = f.cfg(s.channelId);
    const receipt = await s.receipt();
    const selfSigned = await signReceipt(t, f, receipt, "client-2");
    const evidence = keccak256(toHex("evidence"));
    const forged: ChannelConfig = { ...real, receiverSigner: who("client-2") };
    const before = await balances(watched());
    await expectRevert(
      f.as("client-2").disputes.write.challenge([receipt, forged, selfSigned, evidence, ""]),
      "UnknownChannel",
    );
    // Terms of another opened channel (with another signer) do not match the receipt's channel.
    await f.setAgentWallet("provider-1", s.agentId, "provider-2");
    const otherConfig = f.channelConfig("client-4", s.agentId, s.modelId, { salt: 11 });
    await f.mined(f.as("client-4").channels.write.open([otherConfig, DEPOSIT]));
    const byWallet = await signReceipt(t, f, receipt, "provider-2");
    await expectRevert(
      f.as("client-2").disputes.write.challenge([receipt, otherConfig, byWallet, evidence, ""]),
      "UnknownChannel",
    );
    // With the real terms the self-signed receipt is refused, the provider's is accepted.
    await expectRevert(
      f.as("client-2").disputes.write.challenge([receipt, real, selfSigned, evidence, ""]),
      "ReceiptSignatureInvalid",
    );
    const delta = (await balances(watched())).map((v, i) => v - (before[i] ?? 0n));
    assert.deepEqual(delta, [0n, -DEPOSIT, 0n, 0n, 0n, 0n, DEPOSIT, 0n]);
    const providerSigned = await signReceipt(t, f, receipt, "provider-1");
    await f.mined(f.as("client-2").disputes.write.challenge([receipt, real, providerSigned, evidence, ""]));
  });
});
