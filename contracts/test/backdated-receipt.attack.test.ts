/**
 * A provider writes the receipt's `timestamp` itself. Backdating it past the audit window would make
 * a bad answer unchallengeable at once; the challenge window therefore also runs an audit window from
 * the channel's latest claim (`lastClaimedAt`, stamped by the chain), and the provider must claim to
 * be paid. A future-dated receipt is challengeable at once. Staking keeps the agent's last stake in
 * place while work it was paid for can still be challenged.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { keccak256, toHex } from "viem";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { disputesAbi } from "../generated/index.ts";
import { type DisputeScene, disputeScene, signReceipt } from "./disputes-helpers.ts";
import { deployFixture, type Fixture, rewinder } from "./fixture.ts";
import { eventsOf } from "./helpers.ts";

const STAKE = 500_000_000n;
const evidence = keccak256(toHex("evidence"));

describe("backdated receipts", () => {
  let t: TestChain;
  let f: Fixture;
  let s: DisputeScene;
  let reset: () => Promise<void>;
  const now = async () => (await f.publicClient.getBlock()).timestamp;

  before(async () => {
    t = await createTestChain();
    f = await deployFixture(t);
    s = await disputeScene(t, f, STAKE);
    reset = rewinder(t);
  });
  beforeEach(() => reset());
  after(() => t.close());

  test("attack: provider backdates a receipt past the audit window, then claims its payment", async () => {
    // Served now, stamped two audit windows ago, paid by the claim that follows.
    const r = await s.receipt({ timestamp: (await now()) - 2n * f.params.auditWindow, cumulativeCharged: 3_000n });
    const claim = await s.claim(3_000n);
    const claimedAt = (await f.publicClient.getBlock({ blockNumber: claim.blockNumber })).timestamp;
    const ch = await f.as("client-1").channels.read.getChannel([f.cfg(s.channelId)]);
    assert.equal(ch.lastClaimedAt, claimedAt);
    const payer = await f.balanceOf(s.address("client-1"));
    const { disputeId, committee } = await s.challenge("client-2", r);
    const tx = await s.convict(disputeId, committee);
    assert.equal(eventsOf(disputesAbi, tx, "DisputeResolved")[0]?.args.refunded, 3_000n);
    assert.equal(await f.balanceOf(s.address("client-1")), payer + 3_000n, "payer refunded");
  });

  test("a receipt stays challengeable an audit window after the claim that paid it, not longer", async () => {
    const r = await s.receipt({ timestamp: (await now()) - 2n * f.params.auditWindow });
    await s.claim(1_000n);
    await t.increaseTime(f.params.auditWindow + 1n);
    const sig = await signReceipt(t, f, r, "provider-1");
    const held = await f.balanceOf(f.addresses.disputes);
    await expectRevert(
      f.as("client-2").disputes.write.challenge([r, f.cfg(r.channelId), sig, evidence, ""]),
      "ChallengeWindowClosed",
    );
    assert.equal(await f.balanceOf(f.addresses.disputes), held);
    // The next claim on the channel (the provider's next payment) opens it again.
    await s.claim(2_000n);
    await f.mined(f.as("client-2").disputes.write.challenge([r, f.cfg(r.channelId), sig, evidence, ""]));
  });

  test("attack: provider future-dates a receipt so no challenge is accepted until its stake is gone", async () => {
    const r = await s.receipt({ timestamp: (await now()) + 365n * 86_400n });
    const { disputeId } = await s.challenge("client-2", r);
    assert.equal(await f.as("client-1").disputes.read.openChallenges([s.agentId]), 1n);
    assert.equal((await f.as("client-1").disputes.read.getDispute([disputeId])).status, 1);
  });

  test("attack: provider unbonds, claims late so the window outlives the unbonding, and withdraws", async () => {
    // No offers, so all the stake may unbond; the claim lands just before the unbonding matures.
    const st = f.as("provider-1").staking;
    await f.mined(st.write.requestUnbond([s.agentId, STAKE]));
    const r = await s.receipt({ timestamp: (await now()) - 2n * f.params.auditWindow, cumulativeCharged: 1_000n });
    await t.increaseTime(f.params.unbondingDelay - 10n);
    await s.claim(1_000n);
    await t.increaseTime(10n);
    const until = await f.as("client-1").disputes.read.challengeableUntil([s.agentId]);
    await expectRevert(st.write.withdraw([s.agentId, s.address("provider-1")]), "StakeLocked");
    assert.deepEqual(await st.read.stakeOf([s.agentId]), [0n, STAKE], "the stake is still in Staking");
    // A challenge landed in the meantime convicts from the unbonding stake.
    const { disputeId, committee } = await s.challenge("client-2", r);
    await s.convict(disputeId, committee);
    assert.deepEqual(await st.read.stakeOf([s.agentId]), [0n, STAKE - s.p.slashAmount]);
    // Once the window after the claim has passed, the rest leaves.
    const left = until - (await now());
    if (left >= 0n) await t.increaseTime(left + 1n);
    await f.mined(st.write.withdraw([s.agentId, s.address("provider-1")]));
  });

  test("a provider that keeps one offer's stake bonded may withdraw the rest while it keeps claiming", async () => {
    const st = f.as("provider-1").staking;
    await f.mined(st.write.requestUnbond([s.agentId, STAKE - f.params.minStakePerOffer]));
    await t.increaseTime(f.params.unbondingDelay);
    await s.claim(1_000n);
    await f.mined(st.write.withdraw([s.agentId, s.address("provider-1")]));
    assert.deepEqual(await st.read.stakeOf([s.agentId]), [f.params.minStakePerOffer, 0n]);
  });
});
