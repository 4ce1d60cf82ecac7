/**
 * Disputes flow on the real deployed set: commit / reveal / resolve with every custom error, the
 * guilty path (slash, refund, reward, pause, ERC-8004 records) and the not-guilty path (bond to the
 * provider), voter penalties, and the registries' protocol-writer hook.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { keccak256, toHex, zeroAddress } from "viem";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { disputesAbi, reputationRegistryAbi, stakingAbi, validationRegistryAbi } from "../generated/index.ts";
import { type DisputeScene, disputeScene } from "./disputes-helpers.ts";
import { deployFixture, type Fixture, rewinder } from "./fixture.ts";
import { contractAs, eventsOf } from "./helpers.ts";

const STAKE = 500_000_000n;

describe("Disputes flow", () => {
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

  const votesOf = (committee: string[], guilty: boolean[]) =>
    Object.fromEntries(committee.map((m, i) => [m, guilty[i] ?? false]));

  test("commitVote and revealVote enforce committee, windows and commitments", async () => {
    const { disputeId, committee } = await s.challenge();
    const [a = "", b = "", c = ""] = committee;
    const outsider = ["validator-1", "validator-2", "validator-3", "validator-4", "validator-5"].find(
      (v) => !committee.includes(v),
    ) as string;
    const d = (who: string) => f.as(who).disputes;
    await expectRevert(d(a).write.commitVote([99n, keccak256("0x01")]), "UnknownDispute");
    await expectRevert(d(outsider).write.commitVote([disputeId, keccak256("0x01")]), "NotOnCommittee");
    const commit = await s.commit(disputeId, a, true);
    assert.equal(eventsOf(disputesAbi, commit, "VoteCommitted")[0]?.args.voter, s.address(a));
    await expectRevert(d(a).write.commitVote([disputeId, keccak256("0x01")]), "AlreadyCommitted");
    await s.commit(disputeId, b, false);
    await expectRevert(d(a).write.revealVote([disputeId, true, s.salt(a)]), "NotRevealWindow");
    await t.increaseTime(s.p.commitWindow + 1n);
    await expectRevert(d(c).write.commitVote([disputeId, keccak256("0x01")]), "CommitWindowClosed");
    await expectRevert(d(c).write.revealVote([disputeId, true, s.salt(c)]), "NotCommitted");
    await expectRevert(d(a).write.revealVote([disputeId, false, s.salt(a)]), "CommitmentMismatch");
    await expectRevert(d(b).write.revealVote([disputeId, false, s.salt(a)]), "CommitmentMismatch");
    const revealed = await s.reveal(disputeId, a, true);
    assert.equal(eventsOf(disputesAbi, revealed, "VoteRevealed")[0]?.args.guilty, true);
    await expectRevert(d(a).write.revealVote([disputeId, true, s.salt(a)]), "AlreadyRevealed");
    await expectRevert(d(a).write.resolve([disputeId]), "RevealWindowOpen");
    await t.increaseTime(s.p.revealWindow);
    await expectRevert(d(b).write.revealVote([disputeId, false, s.salt(b)]), "NotRevealWindow");
    const vote = await d(a).read.voteOf([disputeId, s.address(a)]);
    assert.deepEqual([vote.member, vote.committed, vote.revealed, vote.guilty], [true, true, true, true]);
    await s.resolve(disputeId);
    await expectRevert(d(a).write.resolve([disputeId]), "DisputeClosed");
    await expectRevert(d(a).write.commitVote([disputeId, keccak256("0x01")]), "DisputeClosed");
    await expectRevert(d(a).write.resolve([0n]), "UnknownDispute");
  });

  test("guilty: slashes the accused, refunds the payer, rewards the challenger, pauses offers, records the verdict", async () => {
    const offer = await f.mined(
      f.as("provider-1").staking.write.addOffer([s.agentId, s.modelId, 1n, 1n, 100, "https://p1.example"]),
    );
    assert.equal(eventsOf(stakingAbi, offer, "OfferAdded").length, 1);
    // The channel paid the provider 1,000 (the refund is bounded by what the channel paid).
    const paid = await f.voucherClaim({ channelId: s.channelId, cumulativeAmount: 1_000n, signer: "client-1" });
    await f.mined(f.as("provider-1").channels.write.claim([[paid]]));
    const { disputeId, committee, receipt } = await s.challenge("client-2");
    await s.vote(disputeId, votesOf(committee, [true, true, false]));
    await s.toResolvable(disputeId);
    const who = ["client-1", "client-2", "treasury", "provider-1"].map((n) => s.address(n));
    const before = await Promise.all(who.map((a) => f.balanceOf(a)));
    const stakingBefore = await f.balanceOf(f.addresses.staking);
    const tx = await s.resolve(disputeId);

    const slashed = s.p.slashAmount;
    const refund = receipt.charge;
    const reward = ((slashed - refund) * s.p.rewardBps) / 10_000n;
    const rest = slashed - refund - reward;
    const [resolved] = eventsOf(disputesAbi, tx, "DisputeResolved");
    assert.deepEqual(
      [resolved?.args.guilty, resolved?.args.slashed, resolved?.args.refunded, resolved?.args.challengerReward],
      [true, slashed, refund, reward],
    );
    assert.equal(resolved?.args.treasuryAmount, rest);
    const after = await Promise.all(who.map((a) => f.balanceOf(a)));
    assert.equal(after[0], (before[0] ?? 0n) + refund, "payer refunded the charge");
    assert.equal(after[1], (before[1] ?? 0n) + reward + s.p.challengeBond, "challenger: reward + bond");
    assert.equal(after[2], (before[2] ?? 0n) + rest, "treasury: the rest");
    assert.equal(after[3], before[3], "provider paid nothing directly");
    assert.equal(await f.balanceOf(f.addresses.staking), stakingBefore - slashed);
    const st = f.as("provider-1").staking;
    assert.deepEqual(await st.read.stakeOf([s.agentId]), [STAKE - slashed, 0n]);
    assert.equal(await st.read.offersPaused([s.agentId]), true);
    assert.equal(await f.as("client-1").disputes.read.openChallenges([s.agentId]), 0n);
    assert.equal((await f.as("client-1").disputes.read.getDispute([disputeId])).status, 2);
    // The minority voter paid the penalty to the two majority voters.
    const [loser] = eventsOf(disputesAbi, tx, "VoterPenalized");
    assert.equal(loser?.args.voter.toLowerCase(), s.address(committee[2] ?? "").toLowerCase());
    const rewards = eventsOf(disputesAbi, tx, "VoterRewarded").map((e) => e.args.amount);
    assert.equal(
      rewards.reduce((x, y) => x + y, 0n),
      s.p.voterPenalty,
    );
    // ERC-8004 records.
    assert.equal(eventsOf(disputesAbi, tx, "RegistryWriteFailed").length, 0);
    const val = contractAs(t, validationRegistryAbi, f.addresses.validationRegistry, "client-1");
    const [count, avg] = await val.read.getSummary([s.agentId, [], ""]);
    assert.deepEqual([count, avg], [1n, 0]);
    const rep = contractAs(t, reputationRegistryAbi, f.addresses.reputationRegistry, "client-1");
    const [n, value] = await rep.read.getSummary([s.agentId, [], "verity-dispute", ""]);
    assert.deepEqual([n, value], [1n, -100n]);
    // The provider may unpause now that no challenge is open.
    await f.mined(st.write.unpauseOffers([s.agentId]));
  });

  test("guilty refunds what the payer paid on the channel up to the challenged answer, capped at what was claimed", async () => {
    // The provider claims 5,000 on client-1's channel; the challenged receipt says 7,000 charged so far.
    const claim = await f.voucherClaim({ channelId: s.channelId, cumulativeAmount: 5_000n, signer: "client-1" });
    await f.mined(f.as("provider-1").channels.write.claim([[claim]]));
    const first = await s.challenge("client-2", await s.receipt({ charge: 1_000n, cumulativeCharged: 7_000n }));
    assert.equal(await f.as("client-1").disputes.read.refundDue([first.disputeId]), 5_000n);
    await s.vote(first.disputeId, votesOf(first.committee, [true, true, true]));
    await s.toResolvable(first.disputeId);
    const payer = await f.balanceOf(s.address("client-1"));
    const tx = await s.resolve(first.disputeId);
    assert.equal(eventsOf(disputesAbi, tx, "DisputeResolved")[0]?.args.refunded, 5_000n);
    assert.equal(await f.balanceOf(s.address("client-1")), payer + 5_000n);
    // Everything the channel paid was refunded: a second verdict on it refunds nothing more.
    const second = await s.challenge("client-3", await s.receipt({ charge: 1_000n, cumulativeCharged: 3_000n }));
    assert.equal(await f.as("client-1").disputes.read.refundDue([second.disputeId]), 0n);
  });

  test("guilty slashes bonded stake first, then unbonding stake, and at most what there is", async () => {
    const st = f.as("provider-1").staking;
    await f.mined(st.write.requestUnbond([s.agentId, STAKE - 40n]));
    const paid = await f.voucherClaim({ channelId: s.channelId, cumulativeAmount: 5_000n, signer: "client-1" });
    await f.mined(f.as("provider-1").channels.write.claim([[paid]]));
    const first = await s.challenge("client-2", await s.receipt({ cumulativeCharged: 1_000n }));
    await s.vote(first.disputeId, votesOf(first.committee, [true, true, true]));
    await s.toResolvable(first.disputeId);
    const tx = await s.resolve(first.disputeId);
    const [slash] = eventsOf(stakingAbi, tx, "Slashed");
    assert.deepEqual([slash?.args.fromBonded, slash?.args.fromUnbonding], [40n, s.p.slashAmount - 40n]);
    // The rest matures and is withdrawn (no challenge open); 30 is staked back: a verdict takes only that.
    await t.increaseTime(f.params.unbondingDelay);
    await f.mined(st.write.withdraw([s.agentId, s.address("provider-1")]));
    await f.mined(st.write.stake([s.agentId, 30n]));
    const second = await s.challenge("client-3");
    await s.vote(second.disputeId, votesOf(second.committee, [true, true, false]));
    await s.toResolvable(second.disputeId);
    const payer = await f.balanceOf(s.address("client-1"));
    const tx2 = await s.resolve(second.disputeId);
    const [resolved] = eventsOf(disputesAbi, tx2, "DisputeResolved");
    assert.deepEqual([resolved?.args.slashed, resolved?.args.refunded], [30n, 30n]);
    assert.equal(await f.balanceOf(s.address("client-1")), payer + 30n);
    assert.deepEqual(await st.read.stakeOf([s.agentId]), [0n, 0n]);
    // A guilty verdict on an empty stake slashes nothing but still pauses and returns the bond.
    const third = await s.challenge();
    await s.vote(third.disputeId, votesOf(third.committee, [true, true, true]));
    await s.toResolvable(third.disputeId);
    const before = await f.balanceOf(s.address("client-2"));
    const tx3 = await s.resolve(third.disputeId);
    assert.equal(eventsOf(disputesAbi, tx3, "DisputeResolved")[0]?.args.slashed, 0n);
    assert.equal(eventsOf(stakingAbi, tx3, "Slashed").length, 0);
    assert.equal(await f.balanceOf(s.address("client-2")), before + s.p.challengeBond);
  });

  test("not guilty: the bond pays the provider's wallet; nothing is slashed or paused", async () => {
    await f.setAgentWallet("provider-1", s.agentId, "provider-2");
    const { disputeId, committee } = await s.challenge();
    await s.vote(disputeId, votesOf(committee, [false, false, true]));
    await s.toResolvable(disputeId);
    const before = await f.balanceOf(s.address("provider-2"));
    const tx = await s.resolve(disputeId);
    assert.equal(eventsOf(disputesAbi, tx, "DisputeResolved")[0]?.args.guilty, false);
    assert.equal(eventsOf(stakingAbi, tx, "Slashed").length, 0);
    assert.equal(await f.balanceOf(s.address("provider-2")), before + s.p.challengeBond);
    assert.deepEqual(await f.as("provider-1").staking.read.stakeOf([s.agentId]), [STAKE, 0n]);
    assert.equal(await f.as("provider-1").staking.read.offersPaused([s.agentId]), false);
    assert.equal((await f.as("client-1").disputes.read.getDispute([disputeId])).status, 3);
  });

  test("ties and no reveals are not guilty; non-revealers pay, revealers share, the treasury takes unclaimed", async () => {
    const { disputeId, committee } = await s.challenge();
    const [a = "", b = "", c = ""] = committee;
    // a: guilty, b: not guilty, c: commits but never reveals → tie → not guilty; c pays a and b.
    await s.vote(disputeId, { [a]: true, [b]: false, [c]: true }, [a, b]);
    await s.toResolvable(disputeId);
    const provider = await f.balanceOf(s.address("provider-1"));
    const tx = await s.resolve(disputeId);
    assert.equal(eventsOf(disputesAbi, tx, "DisputeResolved")[0]?.args.guilty, false);
    assert.equal(await f.balanceOf(s.address("provider-1")), provider + s.p.challengeBond);
    const penalized = eventsOf(disputesAbi, tx, "VoterPenalized").map((e) => e.args.voter.toLowerCase());
    assert.deepEqual(penalized, [s.address(c).toLowerCase()]);
    const [, , bondC] = await f.as(c).disputes.read.validatorOf([s.address(c)]);
    const [, , bondA] = await f.as(a).disputes.read.validatorOf([s.address(a)]);
    assert.equal(bondC, s.p.validatorBond - s.p.voterPenalty);
    assert.equal(bondA, s.p.validatorBond + s.p.voterPenalty / 2n);
    // Nobody reveals: every member pays, the treasury collects.
    const second = await s.challenge();
    await t.increaseTime(s.p.commitWindow + s.p.revealWindow + 1n);
    const treasury = await f.balanceOf(s.address("treasury"));
    const tx2 = await s.resolve(second.disputeId);
    assert.equal(eventsOf(disputesAbi, tx2, "VoterPenalized").length, 3);
    assert.equal(await f.balanceOf(s.address("treasury")), treasury + 3n * s.p.voterPenalty);
  });

  test("a validator whose bond fell below validatorBond is not drawn again", async () => {
    const first = await s.challenge();
    await t.increaseTime(s.p.commitWindow + s.p.revealWindow + 1n);
    await s.resolve(first.disputeId);
    // The three silent members fell below the bond: only two validators are eligible now.
    await expectRevert(s.challenge("client-2"), "NotEnoughValidators");
    for (const m of first.committee) {
      const [registered, , bond] = await f.as(m).disputes.read.validatorOf([s.address(m)]);
      assert.deepEqual([registered, bond], [true, s.p.validatorBond - s.p.voterPenalty]);
    }
  });

  describe("registry hooks", () => {
    test("registries are bound to Disputes once, by their deployer only", async () => {
      for (const [abi, address] of [
        [validationRegistryAbi, f.addresses.validationRegistry],
        [reputationRegistryAbi, f.addresses.reputationRegistry],
      ] as const) {
        const asDeployer = contractAs(t, abi, address, "deployer");
        assert.equal(await asDeployer.read.disputes(), f.addresses.disputes);
        assert.equal(await asDeployer.read.deployer(), s.address("deployer"));
        await expectRevert(asDeployer.write.bindDisputes([zeroAddress]), "DisputesAlreadyBound");
        await expectRevert(contractAs(t, abi, address, "client-1").write.bindDisputes([zeroAddress]), "NotDeployer");
      }
    });

    test("only the bound Disputes contract may record outcomes", async () => {
      const val = contractAs(t, validationRegistryAbi, f.addresses.validationRegistry, "client-1");
      await expectRevert(
        val.write.recordDisputeOutcome([s.agentId, keccak256("0x01"), 0, "", keccak256("0x02"), "x"]),
        "OnlyDisputes",
      );
      const rep = contractAs(t, reputationRegistryAbi, f.addresses.reputationRegistry, "client-1");
      await expectRevert(
        rep.write.recordDisputeOutcome([s.agentId, -100n, 0, "x", "y", "", keccak256("0x02")]),
        "OnlyDisputes",
      );
    });

    test("a request squatting the verdict's hash does not block the verdict record", async () => {
      // The accused front-runs the validation record by creating a request with its hash.
      const { disputeId, committee } = await s.challenge();
      const requestHash = keccak256(
        `0x${f.addresses.disputes.slice(2).toLowerCase().padStart(64, "0")}${toHex(disputeId, { size: 32 }).slice(2)}`,
      );
      const val = contractAs(t, validationRegistryAbi, f.addresses.validationRegistry, "provider-1");
      await f.mined(val.write.validationRequest([s.address("provider-1"), s.agentId, "", requestHash]));
      await s.vote(disputeId, votesOf(committee, [true, true, true]));
      await s.toResolvable(disputeId);
      const tx = await s.resolve(disputeId);
      assert.equal(eventsOf(disputesAbi, tx, "RegistryWriteFailed").length, 0);
      const [validator, agentId, response] = await val.read.getValidationStatus([requestHash]);
      assert.deepEqual([validator, agentId, response], [f.addresses.disputes, s.agentId, 0]);
      assert.equal(eventsOf(stakingAbi, tx, "Slashed").length, 1);
    });
  });
});
