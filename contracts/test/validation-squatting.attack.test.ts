/**
 * Validation squatting: anyone who owns an agent writes a ValidationRegistry request under the hash a
 * dispute verdict will use (`keccak256(abi.encode(disputes, disputeId))` is public), hoping the
 * verdict's record then fails. The verdict replaces the squatted request instead.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { encodeAbiParameters, keccak256 } from "viem";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { disputesAbi, validationRegistryAbi } from "../generated/index.ts";
import { type DisputeScene, disputeScene } from "./disputes-helpers.ts";
import { deployFixture, type Fixture, rewinder } from "./fixture.ts";
import { contractAs, eventsOf } from "./helpers.ts";

describe("validation squatting", () => {
  let t: TestChain;
  let f: Fixture;
  let s: DisputeScene;
  let reset: () => Promise<void>;

  before(async () => {
    t = await createTestChain();
    f = await deployFixture(t);
    s = await disputeScene(t, f, 500_000_000n);
    reset = rewinder(t);
  });
  beforeEach(() => reset());
  after(() => t.close());

  const verdictHash = (disputeId: bigint) =>
    keccak256(encodeAbiParameters([{ type: "address" }, { type: "uint256" }], [f.addresses.disputes, disputeId]));

  test("attack: a stranger's agent squats the request hash of a coming verdict to block its record", async () => {
    // client-5 registers its own agent and writes requests for the next dispute ids, naming itself.
    const squatter = await f.registerAgent("client-5");
    const reg = contractAs(t, validationRegistryAbi, f.addresses.validationRegistry, "client-5");
    for (const id of [1n, 2n]) {
      await f.mined(reg.write.validationRequest([s.address("client-5"), squatter, "", verdictHash(id)]));
    }
    await f.mined(reg.write.validationResponse([verdictHash(1n), 100, "", verdictHash(1n), "verity-dispute"]));
    const { disputeId, committee } = await s.challenge();
    assert.equal(disputeId, 1n);
    const tx = await s.convict(disputeId, committee);
    assert.equal(eventsOf(disputesAbi, tx, "RegistryWriteFailed").length, 0, "the verdict record did not fail");
    assert.equal(eventsOf(validationRegistryAbi, tx, "ValidationRequestReplaced")[0]?.args.agentId, squatter);
    const [validator, agentId, response, , tag] = await reg.read.getValidationStatus([verdictHash(1n)]);
    assert.deepEqual([validator, agentId, response, tag], [f.addresses.disputes, s.agentId, 0, "verity-dispute"]);
    // The accused's summary holds the verdict; the squatter's agent does not inherit it.
    assert.deepEqual(await reg.read.getSummary([s.agentId, [], ""]), [1n, 0]);
    assert.deepEqual(await reg.read.getSummary([squatter, [], ""]), [0n, 0]);
    // The squatter can no longer answer the request it wrote.
    await expectRevert(
      reg.write.validationResponse([verdictHash(1n), 100, "", verdictHash(1n), "x"]),
      "NotRequestedValidator",
    );
  });

  test("attack: re-requesting a recorded verdict's hash to overwrite it", async () => {
    const { disputeId, committee } = await s.challenge();
    await s.convict(disputeId, committee);
    const squatter = await f.registerAgent("client-5");
    const reg = contractAs(t, validationRegistryAbi, f.addresses.validationRegistry, "client-5");
    await expectRevert(
      reg.write.validationRequest([s.address("client-5"), squatter, "", verdictHash(disputeId)]),
      "ValidationRequestExists",
    );
    const [validator, agentId] = await reg.read.getValidationStatus([verdictHash(disputeId)]);
    assert.deepEqual([validator, agentId], [f.addresses.disputes, s.agentId]);
  });
});
