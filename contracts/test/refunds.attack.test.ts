/**
 * Refunds multiplied: a payer (with a friendly challenger) disputes many receipts of one channel so
 * each guilty verdict refunds what the channel paid again. Refunds per channel are bounded by what the
 * channel paid the provider, net of the refunds already made (`refundedOf`).
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { disputesAbi } from "../generated/index.ts";
import { type DisputeScene, disputeScene } from "./disputes-helpers.ts";
import { deployFixture, type Fixture, rewinder } from "./fixture.ts";
import { eventsOf } from "./helpers.ts";

const STAKE = 5_000_000_000n;
const PAID = 6_000n;

describe("refunds per channel", () => {
  let t: TestChain;
  let f: Fixture;
  let s: DisputeScene;
  let reset: () => Promise<void>;

  before(async () => {
    t = await createTestChain();
    f = await deployFixture(t);
    s = await disputeScene(t, f, STAKE);
    reset = rewinder(t);
  });
  beforeEach(() => reset());
  after(() => t.close());

  test("attack: payer disputes K receipts of one channel to be refunded K times what it paid", async () => {
    await s.claim(PAID);
    const payer = s.address("client-1");
    const before = await f.balanceOf(payer);
    const refunds: bigint[] = [];
    for (let k = 1n; k <= 4n; k++) {
      // Each receipt claims the channel's whole paid total as charged so far.
      const receipt = await s.receipt({ charge: 2_000n, cumulativeCharged: PAID });
      const { disputeId, committee } = await s.challenge(k % 2n === 0n ? "client-3" : "client-2", receipt);
      const tx = await s.convict(disputeId, committee);
      refunds.push(eventsOf(disputesAbi, tx, "DisputeResolved")[0]?.args.refunded ?? -1n);
    }
    assert.deepEqual(refunds, [PAID, 0n, 0n, 0n]);
    assert.equal(await f.balanceOf(payer), before + PAID, "refunded once what the channel paid");
    assert.equal(await f.as("client-1").disputes.read.refundedOf([s.channelId]), PAID);
    // The later verdicts' claims are held, and nothing more can be released while the channel has
    // paid nothing more.
    assert.equal(await f.as("client-1").disputes.read.heldRefundOf([2n]), PAID);
    await expectRevert(f.as("client-1").disputes.write.releaseRefund([2n]), "RefundNotReleasable");
    await expectRevert(f.as("client-1").disputes.write.releaseRefund([1n]), "NoRefundHeld");
    // A later payment on the channel may be refunded by a later verdict, again at most once.
    await s.claim(PAID + 1_500n);
    const late = await s.challenge("client-2", await s.receipt({ charge: 1_000n, cumulativeCharged: PAID + 1_500n }));
    const tx = await s.convict(late.disputeId, late.committee);
    assert.equal(eventsOf(disputesAbi, tx, "DisputeResolved")[0]?.args.refunded, 1_500n);
    assert.equal(await f.balanceOf(payer), before + PAID + 1_500n);
    // Held refunds stay bounded by the channel too: releasing any of them pays nothing more.
    for (const id of [2n, 3n, 4n, late.disputeId]) {
      await expectRevert(f.as("client-1").disputes.write.releaseRefund([id]), "RefundNotReleasable");
    }
    assert.equal(await f.as("client-1").disputes.read.refundedOf([s.channelId]), PAID + 1_500n);
    // Once the channel closes nothing more can be claimed: what is still held goes to the treasury.
    const treasury = await f.balanceOf(s.address("treasury"));
    await f.mined(f.as("client-1").channels.write.initiateWithdraw([f.cfg(s.channelId)]));
    await t.increaseTime(f.params.minWithdrawDelay + 1n);
    await f.mined(f.as("client-1").channels.write.finalizeWithdraw([f.cfg(s.channelId)]));
    const released = await f.mined(f.as("client-5").disputes.write.releaseRefund([2n]));
    const [event] = eventsOf(disputesAbi, released, "RefundReleased");
    assert.deepEqual([event?.args.toPayer, event?.args.toTreasury], [0n, PAID]);
    assert.equal(await f.balanceOf(s.address("treasury")), treasury + PAID);
  });

  test("attack: payer disputes a receipt of an answer it never paid for", async () => {
    const payer = s.address("client-1");
    const before = await f.balanceOf(payer);
    const { disputeId, committee } = await s.challenge(
      "client-2",
      await s.receipt({ charge: 9_000n, cumulativeCharged: 9_000n }),
    );
    const tx = await s.convict(disputeId, committee);
    const [resolved] = eventsOf(disputesAbi, tx, "DisputeResolved");
    assert.deepEqual([resolved?.args.guilty, resolved?.args.refunded], [true, 0n]);
    assert.equal(eventsOf(disputesAbi, tx, "RefundHeld")[0]?.args.amount, 9_000n);
    assert.equal(await f.balanceOf(payer), before, "nothing paid, nothing refunded");
  });

  test("attack: convicted provider claims the voucher after the verdict to keep the payment", async () => {
    const payer = s.address("client-1");
    const { disputeId, committee } = await s.challenge(
      "client-2",
      await s.receipt({ charge: 9_000n, cumulativeCharged: 9_000n }),
    );
    await s.convict(disputeId, committee);
    const before = await f.balanceOf(payer);
    await s.claim(9_000n); // the payer pays the answer now
    const tx = await f.mined(f.as("client-5").disputes.write.releaseRefund([disputeId]));
    assert.equal(eventsOf(disputesAbi, tx, "RefundReleased")[0]?.args.toPayer, 9_000n);
    assert.equal((await f.as("client-1").channels.read.getChannel([f.cfg(s.channelId)])).claimed, 9_000n);
    assert.equal(await f.balanceOf(payer), before + 9_000n, "refunded what the claim took from its escrow");
    assert.equal(await f.as("client-1").disputes.read.heldRefundOf([disputeId]), 0n);
  });
});
