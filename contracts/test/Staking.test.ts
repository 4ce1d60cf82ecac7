/** Staking: stake, unbonding and withdrawal, Disputes-only slashing and pausing (offers: Staking.offers.test.ts). */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { maxUint256, parseEventLogs, zeroAddress } from "viem";
import { expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { stakingAbi, stakingBytecode } from "../generated/index.ts";
import { agentFixture, deployRevertName, type Fixture } from "./fixture.ts";

const STAKE = 1_000_000_000n;

describe("Staking", () => {
  let t: TestChain;
  let f: Fixture;
  let agentId: bigint;
  let modelId: bigint;
  let reset: () => Promise<void>;
  const who = (name: string) => t.account(name).address;

  before(async () => {
    ({ t, f, agentId, modelId, reset } = await agentFixture({
      funded: ["provider-1", "client-1"],
      amount: 10n * STAKE,
      spender: "staking",
    }));
  });
  beforeEach(() => reset());
  after(() => t.close());

  const staking = (from = "provider-1") => f.as(from).staking;
  const stakeOf = async () => {
    const [bonded, unbonding] = await staking().read.stakeOf([agentId]);
    return { bonded, unbonding };
  };
  const addOffer = (from = "provider-1") =>
    staking(from).write.addOffer([agentId, modelId, 100n, 400n, 4096, "https://p1.example/v1"]);

  test("constructor requires unbondingDelay > auditWindow + disputeWindow and non-zero addresses", async () => {
    const { token, agentRegistry, modelRegistry, disputes } = f.addresses;
    const artifact = { abi: stakingAbi, bytecode: stakingBytecode };
    const args = (unbonding: bigint, d = disputes) => [token, agentRegistry, modelRegistry, d, 1n, unbonding, 10n, 20n];
    assert.equal(await deployRevertName(t, artifact, args(30n)), "UnbondingDelayTooShort");
    assert.equal(await deployRevertName(t, artifact, args(31n)), undefined);
    assert.equal(await deployRevertName(t, artifact, args(31n, zeroAddress)), "ZeroAddress");
    const s = staking();
    assert.equal(await s.read.disputes(), disputes);
    assert.equal(await s.read.minStakePerOffer(), f.params.minStakePerOffer);
    assert.deepEqual(
      [await s.read.unbondingDelay(), await s.read.auditWindow(), await s.read.disputeWindow()],
      [f.params.unbondingDelay, f.params.auditWindow, f.params.disputeWindow],
    );
  });

  test("anyone may stake for an existing agent; stake and totals add up", async () => {
    const receipt = await f.mined(staking("client-1").write.stake([agentId, STAKE]));
    const [event] = parseEventLogs({ abi: stakingAbi, logs: receipt.logs, eventName: "Staked" });
    assert.deepEqual(event?.args, { agentId, from: who("client-1"), amount: STAKE, bonded: STAKE });
    await f.mined(staking().write.stake([agentId, 5n]));
    assert.deepEqual(await stakeOf(), { bonded: STAKE + 5n, unbonding: 0n });
    assert.equal(await staking().read.totalStaked(), STAKE + 5n);
    assert.equal(await f.balanceOf(f.addresses.staking), STAKE + 5n);
    await expectRevert(staking().write.stake([agentId, 0n]), "ZeroAmount");
    await expectRevert(staking().write.stake([999n, 1n]), "UnknownAgent");
  });

  test("stakeWithPermit pulls with the caller's permit", async () => {
    await f.mint(who("client-2"), STAKE);
    const p = await f.signPermit("client-2", f.addresses.staking, STAKE, maxUint256);
    await f.mined(staking("client-2").write.stakeWithPermit([agentId, STAKE, maxUint256, p.v, p.r, p.s]));
    assert.deepEqual(await stakeOf(), { bonded: STAKE, unbonding: 0n });
  });

  test("unbonding: keeps offers covered, matures after the delay, withdraws only without open challenges", async () => {
    const s = staking();
    await f.mined(s.write.stake([agentId, STAKE]));
    await f.mined(addOffer());
    const free = STAKE - f.params.minStakePerOffer;
    await expectRevert(s.write.requestUnbond([agentId, free + 1n]), "InsufficientStake");
    await expectRevert(s.write.requestUnbond([agentId, 0n]), "ZeroAmount");
    await expectRevert(staking("client-1").write.requestUnbond([agentId, 1n]), "NotAgentOwner");
    const receipt = await f.mined(s.write.requestUnbond([agentId, 100n]));
    const block = await f.publicClient.getBlock({ blockNumber: receipt.blockNumber });
    const availableAt = block.timestamp + f.params.unbondingDelay;
    const [event] = parseEventLogs({ abi: stakingAbi, logs: receipt.logs, eventName: "UnbondRequested" });
    assert.deepEqual(event?.args, { agentId, index: 0n, amount: 100n, availableAt });
    await f.mined(s.write.requestUnbond([agentId, 50n]));
    assert.deepEqual(await stakeOf(), { bonded: STAKE - 150n, unbonding: 150n });
    assert.equal((await s.read.unbondingsOf([agentId])).length, 2);

    const to = who("validator-3");
    await expectRevert(s.write.withdraw([agentId, to]), "UnbondingNotReady");
    await t.increaseTime(f.params.unbondingDelay);
    await expectRevert(s.write.withdraw([agentId, zeroAddress]), "ZeroAddress");
    await expectRevert(staking("client-1").write.withdraw([agentId, to]), "NotAgentOwner");
    await f.setOpenChallenges(agentId, 2n);
    await expectRevert(s.write.withdraw([agentId, to]), "OpenChallenges");
    await f.setOpenChallenges(agentId, 0n);
    const done = await f.mined(s.write.withdraw([agentId, to]));
    const [w] = parseEventLogs({ abi: stakingAbi, logs: done.logs, eventName: "Withdrawn" });
    assert.deepEqual(w?.args, { agentId, to, amount: 150n, unbondingHead: 2n });
    assert.equal(await f.balanceOf(to), 150n);
    assert.deepEqual(await stakeOf(), { bonded: STAKE - 150n, unbonding: 0n });
    assert.equal(await s.read.totalStaked(), STAKE - 150n);
    assert.deepEqual(await s.read.unbondingsOf([agentId]), []);
    await expectRevert(s.write.withdraw([agentId, to]), "UnbondingNotReady");
  });

  test("withdraw pays only matured entries; pending requests are capped", async () => {
    const s = staking();
    await f.mined(s.write.stake([agentId, STAKE]));
    await f.mined(s.write.requestUnbond([agentId, 10n]));
    await t.increaseTime(f.params.unbondingDelay / 2n);
    await f.mined(s.write.requestUnbond([agentId, 20n]));
    await t.increaseTime(f.params.unbondingDelay / 2n);
    await f.mined(s.write.withdraw([agentId, who("provider-1")]));
    assert.deepEqual(await stakeOf(), { bonded: STAKE - 30n, unbonding: 20n });
    const max = Number(await s.read.MAX_PENDING_UNBONDINGS());
    for (let i = 1; i < max; i++) await f.mined(s.write.requestUnbond([agentId, 1n]));
    await expectRevert(s.write.requestUnbond([agentId, 1n]), "TooManyUnbondings");
  });

  describe("slash (Disputes only)", () => {
    test("takes bonded stake first, then unbonding entries newest first, and pays the recipients", async () => {
      const s = staking();
      await f.mined(s.write.stake([agentId, 1_000n]));
      await f.mined(s.write.requestUnbond([agentId, 300n]));
      await f.mined(s.write.requestUnbond([agentId, 200n]));
      const disputes = await f.asDisputes();
      const [a, b] = [who("validator-1"), who("validator-2")];
      const receipt = await f.mined(disputes.write.slash([agentId, 650n, [a, b], [600n, 50n]]));
      const [event] = parseEventLogs({ abi: stakingAbi, logs: receipt.logs, eventName: "Slashed" });
      assert.deepEqual(event?.args, {
        agentId,
        amount: 650n,
        recipients: [a, b],
        amounts: [600n, 50n],
        fromBonded: 500n,
        fromUnbonding: 150n,
      });
      assert.deepEqual(await stakeOf(), { bonded: 0n, unbonding: 350n });
      assert.deepEqual(
        (await s.read.unbondingsOf([agentId])).map((e) => e.amount),
        [300n, 50n],
      );
      assert.deepEqual([await f.balanceOf(a), await f.balanceOf(b)], [600n, 50n]);
      assert.equal(await f.balanceOf(f.addresses.staking), 350n);
      assert.equal(await s.read.totalStaked(), 350n);
    });

    test("reverts for other callers and inconsistent or excessive amounts", async () => {
      await f.mined(staking().write.stake([agentId, 100n]));
      const a = who("validator-1");
      await expectRevert(staking("deployer").write.slash([agentId, 1n, [a], [1n]]), "OnlyDisputes");
      const d = await f.asDisputes();
      await expectRevert(d.write.slash([agentId, 1n, [a], [1n, 0n]]), "SlashLengthMismatch");
      await expectRevert(d.write.slash([agentId, 2n, [a], [1n]]), "SlashSumMismatch");
      await expectRevert(d.write.slash([agentId, 1n, [zeroAddress], [1n]]), "ZeroAddress");
      await expectRevert(d.write.slash([agentId, 101n, [a], [101n]]), "InsufficientStake");
    });
  });

  describe("pauseOffers (Disputes only) and unpauseOffers", () => {
    test("pausing blocks new offers; the owner resumes once no challenge is open", async () => {
      const s = staking();
      await f.mined(s.write.stake([agentId, STAKE]));
      await expectRevert(s.write.pauseOffers([agentId]), "OnlyDisputes");
      await expectRevert(s.write.unpauseOffers([agentId]), "OffersNotPaused");
      const receipt = await f.mined((await f.asDisputes()).write.pauseOffers([agentId]));
      assert.equal(parseEventLogs({ abi: stakingAbi, logs: receipt.logs, eventName: "OffersPaused" }).length, 1);
      assert.equal(await s.read.offersPaused([agentId]), true);
      await expectRevert(addOffer(), "OffersArePaused");
      await f.setOpenChallenges(agentId, 1n);
      await expectRevert(s.write.unpauseOffers([agentId]), "OpenChallenges");
      await f.setOpenChallenges(agentId, 0n);
      await expectRevert(staking("client-1").write.unpauseOffers([agentId]), "NotAgentOwner");
      const resumed = await f.mined(s.write.unpauseOffers([agentId]));
      assert.equal(parseEventLogs({ abi: stakingAbi, logs: resumed.logs, eventName: "OffersUnpaused" }).length, 1);
      assert.equal(await s.read.offersPaused([agentId]), false);
      await f.mined(addOffer());
    });
  });
});
