/** Disputes skeleton: wired to Staking, every entry point inactive, nothing can slash. */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { keccak256, toHex, zeroAddress } from "viem";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { disputesAbi, disputesBytecode } from "../generated/index.ts";
import { deployFixture, deployRevertName, type Fixture } from "./fixture.ts";

describe("Disputes", () => {
  let t: TestChain;
  let f: Fixture;

  before(async () => {
    t = await createTestChain();
    f = await deployFixture(t);
  });
  after(() => t.close());

  test("is the Disputes address Staking trusts, and knows its peers", async () => {
    const d = f.as("client-1").disputes;
    assert.equal(await f.as("client-1").staking.read.disputes(), d.address);
    assert.equal(await d.read.staking(), f.addresses.staking);
    assert.equal(await d.read.paymentChannels(), f.addresses.paymentChannels);
    assert.equal(await d.read.agentRegistry(), f.addresses.agentRegistry);
    assert.equal(await d.read.ACTIVE(), false);
    assert.equal(await d.read.disputeCount(), 0n);
    const artifact = { abi: disputesAbi, bytecode: disputesBytecode };
    const { staking, paymentChannels, agentRegistry } = f.addresses;
    for (const i of [0, 1, 2]) {
      const args: unknown[] = [staking, paymentChannels, agentRegistry];
      args[i] = zeroAddress;
      assert.equal(await deployRevertName(t, artifact, args), "ZeroAddress");
    }
  });

  test("reports no open challenges", async () => {
    const d = f.as("client-1").disputes;
    for (const agentId of [0n, 1n, 2n ** 200n]) assert.equal(await d.read.openChallenges([agentId]), 0n);
  });

  test("challenge, vote and resolve revert DisputesNotActive", async () => {
    const d = f.as("validator-1").disputes;
    await expectRevert(
      d.write.challenge(["0x1234", "0x5678", keccak256(toHex("evidence")), "ipfs://evidence"]),
      "DisputesNotActive",
    );
    await expectRevert(d.write.vote([1n, keccak256(toHex("vote"))]), "DisputesNotActive");
    await expectRevert(d.write.resolve([1n]), "DisputesNotActive");
  });

  test("exposes no function that slashes, pauses or moves tokens", () => {
    const functions = disputesAbi.filter((x) => x.type === "function").map((x) => x.name);
    assert.deepEqual(functions.sort(), [
      "ACTIVE",
      "agentRegistry",
      "challenge",
      "disputeCount",
      "openChallenges",
      "paymentChannels",
      "resolve",
      "staking",
      "vote",
    ]);
  });
});
