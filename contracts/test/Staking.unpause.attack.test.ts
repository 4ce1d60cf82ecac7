/**
 * Attack on Staking.unpauseOffers: a provider slashed below the stake its offers need must not
 * resume selling them until the stake covers every listed offer again.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { agentFixture, defaultFixtureParams, type Fixture } from "./fixture.ts";

describe("Staking.unpauseOffers attacks", () => {
  let t: TestChain;
  let f: Fixture;
  let agentId: bigint;
  let modelId: bigint;
  let reset: () => Promise<void>;
  const min = defaultFixtureParams.minStakePerOffer;
  const who = (name: string) => t.account(name).address;

  before(async () => {
    ({ t, f, agentId, modelId, reset } = await agentFixture({
      funded: ["provider-1"],
      amount: 10n * min,
      spender: "staking",
    }));
  });
  beforeEach(() => reset());
  after(() => t.close());

  const staking = () => f.as("provider-1").staking;
  const addOffer = () => staking().write.addOffer([agentId, modelId, 100n, 400n, 4096, "https://p1.example/v1"]);

  test("attack: a slashed provider resumes selling without topping up its stake", async () => {
    await f.mined(staking().write.stake([agentId, 2n * min]));
    await f.mined(addOffer());
    await f.mined(addOffer());
    // Disputes slashes half an offer's stake to the challenger and pauses the offers.
    const disputes = await f.asDisputes();
    await f.mined(disputes.write.slash([agentId, min / 2n, [who("validator-1")], [min / 2n]]));
    await f.mined(disputes.write.pauseOffers([agentId]));
    const watched = [who("provider-1"), who("validator-1"), f.addresses.staking];
    const before = await Promise.all(watched.map((a) => f.balanceOf(a)));

    // Two offers need 2 × min; 1.5 × min is bonded: refused, the offers stay paused.
    await expectRevert(staking().write.unpauseOffers([agentId]), "InsufficientStake");
    assert.equal(await staking().read.offersPaused([agentId]), true);
    await expectRevert(addOffer(), "OffersArePaused");
    assert.deepEqual(await Promise.all(watched.map((a) => f.balanceOf(a))), before);
    assert.deepEqual(await staking().read.stakeOf([agentId]), [2n * min - min / 2n, 0n]);

    // A top-up short of the requirement is still refused; covering it lets the provider resume.
    await f.mined(staking().write.stake([agentId, min / 2n - 1n]));
    await expectRevert(staking().write.unpauseOffers([agentId]), "InsufficientStake");
    assert.equal(await staking().read.offersPaused([agentId]), true);
    await f.mined(staking().write.stake([agentId, 1n]));
    await f.mined(staking().write.unpauseOffers([agentId]));
    assert.equal(await staking().read.offersPaused([agentId]), false);
  });

  test("a slashed provider may resume with fewer offers, each still fully staked", async () => {
    await f.mined(staking().write.stake([agentId, 2n * min]));
    await f.mined(addOffer());
    await f.mined(addOffer());
    const disputes = await f.asDisputes();
    await f.mined(disputes.write.slash([agentId, min, [who("validator-1")], [min]]));
    await f.mined(disputes.write.pauseOffers([agentId]));
    await expectRevert(staking().write.unpauseOffers([agentId]), "InsufficientStake");
    // Removing one offer leaves one offer backed by min: that is allowed, and only that one is sold.
    const [first] = await staking().read.offersOf([agentId]);
    await f.mined(staking().write.removeOffer([first ?? 0n]));
    await f.mined(staking().write.unpauseOffers([agentId]));
    assert.deepEqual((await staking().read.offersOf([agentId])).length, 1);
    await expectRevert(addOffer(), "InsufficientStake");
  });
});
