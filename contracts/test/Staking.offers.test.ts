/** Staking offers: add, update, remove, stake requirement and validation. */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { parseEventLogs } from "viem";
import { expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { stakingAbi } from "../generated/index.ts";
import { agentFixture, defaultFixtureParams, type Fixture } from "./fixture.ts";

const ENDPOINT = "https://p1.example/v1";

describe("Staking offers", () => {
  let t: TestChain;
  let f: Fixture;
  let agentId: bigint;
  let modelId: bigint;
  let reset: () => Promise<void>;
  const min = defaultFixtureParams.minStakePerOffer;

  before(async () => {
    ({ t, f, agentId, modelId, reset } = await agentFixture({
      funded: ["provider-1"],
      amount: 10n * min,
      spender: "staking",
    }));
  });
  beforeEach(() => reset());
  after(() => t.close());

  const staking = (from = "provider-1") => f.as(from).staking;
  const add = (
    from = "provider-1",
    overrides: { model?: bigint; input?: bigint; output?: bigint; max?: number; endpoint?: string } = {},
  ) =>
    staking(from).write.addOffer([
      agentId,
      overrides.model ?? modelId,
      overrides.input ?? 100n,
      overrides.output ?? 400n,
      overrides.max ?? 4096,
      overrides.endpoint ?? ENDPOINT,
    ]);

  test("each active offer needs minStakePerOffer of bonded stake", async () => {
    await expectRevert(add(), "InsufficientStake");
    await f.mined(staking().write.stake([agentId, 2n * min]));
    const receipt = await f.mined(add());
    const [event] = parseEventLogs({ abi: stakingAbi, logs: receipt.logs, eventName: "OfferAdded" });
    const offer = {
      agentId,
      modelId,
      inputPricePerMTok: 100n,
      outputPricePerMTok: 400n,
      maxOutputTokens: 4096,
      endpoint: ENDPOINT,
    };
    assert.deepEqual(event?.args, { offerId: 1n, ...offer });
    assert.deepEqual(await staking().read.getOffer([1n]), offer);
    await f.mined(add());
    await expectRevert(add(), "InsufficientStake");
    assert.deepEqual(await staking().read.offersOf([agentId]), [1n, 2n]);
    // Unbonding cannot uncover active offers; removing one frees its share.
    await expectRevert(staking().write.requestUnbond([agentId, 1n]), "InsufficientStake");
    await f.mined(staking().write.removeOffer([1n]));
    await f.mined(staking().write.requestUnbond([agentId, min]));
  });

  test("only the agent's owner or an approved operator manages offers", async () => {
    await f.mined(staking().write.stake([agentId, 3n * min]));
    await expectRevert(add("client-1"), "NotAgentOwner");
    await f.mined(f.as("provider-1").agents.write.setApprovalForAll([t.account("gateway").address, true]));
    await f.mined(add("gateway"));
    await expectRevert(staking("client-1").write.updateOffer([1n, 1n, 1n, 1, ENDPOINT]), "NotAgentOwner");
    await expectRevert(staking("client-1").write.removeOffer([1n]), "NotAgentOwner");
    await f.mined(staking("gateway").write.removeOffer([1n]));
  });

  test("validates model, prices, output cap and endpoint", async () => {
    await f.mined(staking().write.stake([agentId, min]));
    await expectRevert(add("provider-1", { model: 999n }), "UnknownModel");
    await expectRevert(add("provider-1", { input: 0n, output: 0n }), "InvalidPrice");
    await expectRevert(add("provider-1", { output: 2n ** 128n }), "InvalidPrice");
    await expectRevert(add("provider-1", { input: 2n ** 128n }), "InvalidPrice");
    await expectRevert(add("provider-1", { max: 0 }), "InvalidMaxOutputTokens");
    await expectRevert(add("provider-1", { endpoint: "" }), "InvalidEndpoint");
    await expectRevert(add("provider-1", { endpoint: `https://${"a".repeat(505)}` }), "InvalidEndpoint");
    await f.mined(add("provider-1", { input: 0n, endpoint: `https://${"a".repeat(504)}` }));
    await expectRevert(staking().write.updateOffer([1n, 0n, 0n, 1, ENDPOINT]), "InvalidPrice");
    await expectRevert(staking().write.updateOffer([1n, 1n, 1n, 0, ENDPOINT]), "InvalidMaxOutputTokens");
    await expectRevert(staking().write.updateOffer([1n, 1n, 1n, 1, ""]), "InvalidEndpoint");
  });

  test("updateOffer changes terms; removeOffer deletes the offer and keeps the list compact", async () => {
    await f.mined(staking().write.stake([agentId, 3n * min]));
    for (let i = 0; i < 3; i++) await f.mined(add());
    const receipt = await f.mined(staking().write.updateOffer([2n, 7n, 9n, 123, "https://new.example"]));
    const [event] = parseEventLogs({ abi: stakingAbi, logs: receipt.logs, eventName: "OfferUpdated" });
    assert.deepEqual(event?.args, {
      offerId: 2n,
      agentId,
      inputPricePerMTok: 7n,
      outputPricePerMTok: 9n,
      maxOutputTokens: 123,
      endpoint: "https://new.example",
    });
    assert.equal((await staking().read.getOffer([2n])).endpoint, "https://new.example");
    const removed = await f.mined(staking().write.removeOffer([1n]));
    const [ev] = parseEventLogs({ abi: stakingAbi, logs: removed.logs, eventName: "OfferRemoved" });
    assert.deepEqual(ev?.args, { offerId: 1n, agentId });
    assert.deepEqual(await staking().read.offersOf([agentId]), [3n, 2n]);
    await f.mined(staking().write.removeOffer([2n]));
    await f.mined(staking().write.removeOffer([3n]));
    assert.deepEqual(await staking().read.offersOf([agentId]), []);
    await expectRevert(staking().read.getOffer([1n]), "OfferNotFound");
    await expectRevert(staking().write.removeOffer([1n]), "OfferNotFound");
    await expectRevert(staking().write.updateOffer([42n, 1n, 1n, 1, ENDPOINT]), "OfferNotFound");
  });
});
