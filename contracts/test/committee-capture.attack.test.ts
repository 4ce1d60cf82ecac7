/**
 * Committee capture: a challenger (or the accused) tries to pick the committee that judges a dispute.
 * The committee is drawn in a later transaction from the hash of a block mined after the challenge,
 * weighted by validator bond, never seating the challenger, the channel's payer or the accused
 * provider's owner, wallet, fixed receipt signer or a validator on an agent its owner holds (but not
 * the operators it approved: approval needs no consent); a penalised validator can top its bond up.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { type Address, encodeAbiParameters, keccak256, parseEventLogs, toHex } from "viem";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { disputesAbi } from "../generated/index.ts";
import { type DisputeScene, disputeScene, signReceipt, VALIDATORS } from "./disputes-helpers.ts";
import { deployFixture, type Fixture, rewinder } from "./fixture.ts";
import { eventsOf } from "./helpers.ts";

const STAKE = 500_000_000n;
const evidence = keccak256(toHex("evidence"));

/**
 * The draw as specified: seat after seat, pick a validator with probability proportional to its
 * bond among those not yet picked (bonds below the minimum weigh nothing); a pick that may not sit
 * is discarded and the seat drawn again.
 */
function expectedCommittee(args: {
  seed: bigint;
  pool: readonly Address[];
  bonds: readonly bigint[];
  minBond: bigint;
  seats: number;
  excluded: ReadonlySet<string>;
}): Address[] {
  const weights = args.bonds.map((b) => (b >= args.minBond && b > 0n ? b : 0n));
  let total = weights.reduce((a, b) => a + b, 0n);
  const out: Address[] = [];
  for (let k = 0n; out.length < args.seats && total > 0n; k++) {
    let r = BigInt(keccak256(encodeAbiParameters([{ type: "uint256" }, { type: "uint256" }], [args.seed, k]))) % total;
    let j = 0;
    while (r >= (weights[j] ?? 0n)) r -= weights[j++] ?? 0n;
    total -= weights[j] ?? 0n;
    weights[j] = 0n;
    const candidate = args.pool[j] as Address;
    if (!args.excluded.has(candidate.toLowerCase())) out.push(candidate);
  }
  return out;
}

describe("committee capture", () => {
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

  async function openChallenge(from = "client-2") {
    const r = await s.receipt();
    const sig = await signReceipt(t, f, r, "provider-1");
    const tx = await f.mined(f.as(from).disputes.write.challenge([r, f.cfg(r.channelId), sig, evidence, ""]));
    const [opened] = eventsOf(disputesAbi, tx, "ChallengeOpened");
    return { disputeId: opened?.args.disputeId as bigint, tx };
  }

  test("attack: challenger retries its challenge until the block it lands in draws a committee it likes", async () => {
    const { disputeId, tx } = await openChallenge();
    assert.equal(eventsOf(disputesAbi, tx, "CommitteeDrawn").length, 0, "nobody is drawn in the challenge tx");
    const [scheduled] = eventsOf(disputesAbi, tx, "CommitteeDrawScheduled");
    assert.equal(scheduled?.args.seedBlock, tx.blockNumber + 1n);
    assert.deepEqual(await f.as("client-2").disputes.read.committeeOf([disputeId]), []);
    // The very next transaction is mined in the seed block itself: its hash is not known yet.
    await expectRevert(f.as("client-2").disputes.write.drawCommittee([disputeId]), "SeedBlockNotMined");
    await expectRevert(f.as("client-2").disputes.write.commitVote([disputeId, keccak256("0x01")]), "CommitteeNotDrawn");
    await expectRevert(f.as("client-2").disputes.write.resolve([disputeId]), "CommitteeNotDrawn");
    await t.testClient.mine({ blocks: 1 }); // the seed block
    const draw = await f.mined(f.as("client-5").disputes.write.drawCommittee([disputeId]));
    assert.equal(eventsOf(disputesAbi, draw, "CommitteeDrawn")[0]?.args.members.length, Number(s.p.committeeSize));
    const d = await f.as("client-2").disputes.read.getDispute([disputeId]);
    const drawnAt = (await f.publicClient.getBlock({ blockNumber: draw.blockNumber })).timestamp;
    assert.equal(BigInt(d.drawnAt), drawnAt, "vote windows start at the draw");
    await expectRevert(f.as("client-2").disputes.write.drawCommittee([disputeId]), "CommitteeAlreadyDrawn");
  });

  test("attack: waiting past 256 blocks so the seed block's hash reads as zero", async () => {
    const { disputeId } = await openChallenge();
    await t.testClient.mine({ blocks: 300 });
    const tx = await f.mined(f.as("client-5").disputes.write.drawCommittee([disputeId]));
    assert.equal(eventsOf(disputesAbi, tx, "CommitteeDrawn").length, 0);
    assert.equal(eventsOf(disputesAbi, tx, "CommitteeDrawScheduled")[0]?.args.seedBlock, tx.blockNumber + 1n);
    await t.testClient.mine({ blocks: 1 });
    const drawn = await f.mined(f.as("client-5").disputes.write.drawCommittee([disputeId]));
    assert.equal(eventsOf(disputesAbi, drawn, "CommitteeDrawn").length, 1);
  });

  test("attack: payer, challenger and provider register as validators to judge their own dispute", async () => {
    // client-1 pays the channel, client-2 challenges, provider-1 owns the accused agent, provider-2 is
    // its wallet, provider-3 validates on an agent provider-1 owns.
    await f.setAgentWallet("provider-1", s.agentId, "provider-2");
    const insiders = ["client-1", "client-2", "provider-1", "provider-2", "provider-3"];
    await f.fund(insiders, 1_000_000_000n, f.addresses.disputes);
    for (const name of insiders) {
      let id: bigint;
      if (name === "provider-3") {
        id = await f.registerAgent("provider-1");
        await f.mined(f.as("provider-1").agents.write.approve([s.address("provider-3"), id]));
      } else {
        id = await f.registerAgent(name);
      }
      await f.mined(f.as(name).disputes.write.registerValidator([id]));
      // Heavy bonds: were they eligible, they would take most seats.
      await f.mined(f.as(name).disputes.write.topUpBond([500_000_000n]));
    }
    const excluded = new Set(insiders.map((n) => s.address(n).toLowerCase()));
    const pool = await f.as("client-5").disputes.read.validators();
    for (let i = 0; i < 4; i++) {
      const { disputeId } = await openChallenge("client-2");
      await t.testClient.mine({ blocks: 1 });
      const bonds = await Promise.all(
        pool.map(async (v) => (await f.as("client-5").disputes.read.validatorOf([v]))[2]),
      );
      const tx = await f.mined(f.as("client-5").disputes.write.drawCommittee([disputeId]));
      const [drawn] = parseEventLogs({ abi: disputesAbi, logs: tx.logs, eventName: "CommitteeDrawn" });
      const members = drawn?.args.members ?? [];
      for (const m of members) assert.equal(excluded.has(m.toLowerCase()), false, `${m} judged its own dispute`);
      const expected = expectedCommittee({
        seed: drawn?.args.seed ?? 0n,
        pool,
        bonds,
        minBond: s.p.validatorBond,
        seats: Number(s.p.committeeSize),
        excluded,
      });
      assert.deepEqual(members, expected, "the draw is the bond-weighted draw");
    }
  });

  test("attack: provider approves every validator as its operator so that no committee can be drawn", async () => {
    // ERC-721 approval needs no consent from the operator: it must not disqualify anyone.
    for (const v of VALIDATORS) {
      await f.mined(f.as("provider-1").agents.write.setApprovalForAll([s.address(v), true]));
    }
    const { disputeId, committee } = await s.challenge();
    assert.equal(committee.length, Number(s.p.committeeSize));
    const tx = await s.convict(disputeId, committee);
    assert.equal(eventsOf(disputesAbi, tx, "DisputeResolved")[0]?.args.guilty, true);
  });

  test("attack: Sybil validators at the minimum bond outnumber one heavily bonded honest validator", async () => {
    // Seats go by bond, not by head count: four validators at the minimum bond against one with 19x.
    const honest = "validator-1";
    await f.mined(f.as(honest).disputes.write.topUpBond([18n * s.p.validatorBond]));
    const pool = await f.as("client-5").disputes.read.validators();
    let seated = 0;
    const rounds = 6;
    for (let i = 0; i < rounds; i++) {
      const { disputeId } = await openChallenge();
      await t.testClient.mine({ blocks: 1 });
      const tx = await f.mined(f.as("client-5").disputes.write.drawCommittee([disputeId]));
      const [drawn] = parseEventLogs({ abi: disputesAbi, logs: tx.logs, eventName: "CommitteeDrawn" });
      const bonds = await Promise.all(
        pool.map(async (v) => (await f.as("client-5").disputes.read.validatorOf([v]))[2]),
      );
      const expected = expectedCommittee({
        seed: drawn?.args.seed ?? 0n,
        pool,
        bonds,
        minBond: s.p.validatorBond,
        seats: Number(s.p.committeeSize),
        excluded: new Set(),
      });
      assert.deepEqual(drawn?.args.members, expected);
      if (drawn?.args.members.includes(s.address(honest))) seated += 1;
    }
    // 19 of 23 weight units: the honest validator's first-seat chance alone is 83%.
    assert.ok(seated >= 1, "the heavily bonded validator is seated");
  });

  test("attack: penalties push an honest validator below the bond so it can never be drawn again", async () => {
    // Leave exactly three validators; one of them loses part of its bond for not revealing.
    await f.mined(f.as("validator-4").disputes.write.deregisterValidator());
    await f.mined(f.as("validator-5").disputes.write.deregisterValidator());
    const { disputeId, committee } = await s.challenge();
    const [a = "", b = "", c = ""] = committee;
    await s.vote(disputeId, { [a]: true, [b]: true, [c]: true }, [a, b]);
    await s.toResolvable(disputeId);
    await s.resolve(disputeId);
    const [, , shortBond] = await f.as(c).disputes.read.validatorOf([s.address(c)]);
    assert.equal(shortBond, s.p.validatorBond - s.p.voterPenalty);
    const next = await openChallenge();
    await t.testClient.mine({ blocks: 1 });
    await expectRevert(f.as("client-5").disputes.write.drawCommittee([next.disputeId]), "NotEnoughValidators");
    await expectRevert(f.as(c).disputes.write.topUpBond([0n]), "ZeroAmount");
    await expectRevert(f.as("client-5").disputes.write.topUpBond([1n]), "NotValidator");
    const before = await f.balanceOf(s.address(c));
    const tx = await f.mined(f.as(c).disputes.write.topUpBond([s.p.voterPenalty]));
    assert.equal(eventsOf(disputesAbi, tx, "ValidatorBondToppedUp")[0]?.args.bond, s.p.validatorBond);
    assert.equal(await f.balanceOf(s.address(c)), before - s.p.voterPenalty);
    const { committee: drawn } = await s.draw(next.disputeId, "client-5");
    assert.deepEqual([...drawn].sort(), [...VALIDATORS.slice(0, 3)].sort());
  });
});
