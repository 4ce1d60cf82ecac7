/** Disputes: wiring, parameters, the validator set and every way `challenge` refuses a receipt. */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { type Address, createWalletClient, custom, keccak256, maxUint256, toHex, zeroAddress } from "viem";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { agentRegistryAbi, disputesAbi, disputesBytecode, testUSDAbi } from "../generated/index.ts";
import { type DisputeScene, disputeScene, signReceipt, VALIDATORS } from "./disputes-helpers.ts";
import { deployFixture, deployRevertName, type Fixture, rewinder } from "./fixture.ts";
import { eventsOf } from "./helpers.ts";

describe("Disputes", () => {
  let t: TestChain;
  let f: Fixture;
  let s: DisputeScene;
  let reset: () => Promise<void>;
  const evidence = keccak256(toHex("evidence"));

  before(async () => {
    t = await createTestChain();
    f = await deployFixture(t);
    s = await disputeScene(t, f, 500_000_000n);
    reset = rewinder(t);
  });
  beforeEach(() => reset());
  after(() => t.close());

  const params = (over: Record<string, unknown> = {}) => ({
    challengeBond: 10n,
    validatorBond: 50n,
    voterPenalty: 5n,
    slashAmount: 100n,
    challengerRewardBps: 2_000,
    committeeSize: 3,
    commitWindow: 3_600n,
    revealWindow: 3_600n,
    ...over,
  });

  test("is the Disputes address Staking trusts, knows its peers and its parameters", async () => {
    const d = f.as("client-1").disputes;
    const a = f.addresses;
    assert.equal(await f.as("client-1").staking.read.disputes(), d.address);
    assert.equal(await d.read.staking(), a.staking);
    assert.equal(await d.read.paymentChannels(), a.paymentChannels);
    assert.equal(await d.read.agentRegistry(), a.agentRegistry);
    assert.equal(await d.read.reputationRegistry(), a.reputationRegistry);
    assert.equal(await d.read.validationRegistry(), a.validationRegistry);
    assert.equal(await d.read.token(), a.token);
    assert.equal(await d.read.modelRegistry(), a.modelRegistry);
    assert.equal(await d.read.treasury(), a.treasury);
    assert.equal(await d.read.auditWindow(), f.params.auditWindow);
    assert.equal(s.p.challengeBond, 10_000_000n);
    assert.equal(s.p.committeeSize, 3);
    assert.equal(s.p.commitWindow + s.p.revealWindow <= f.params.disputeWindow, true);
  });

  test("constructor rejects zero addresses and out-of-range parameters", async () => {
    const artifact = { abi: disputesAbi, bytecode: disputesBytecode };
    const a = f.addresses;
    const base = [a.staking, a.paymentChannels, a.agentRegistry, a.reputationRegistry, a.validationRegistry];
    for (const i of [0, 1, 2, 3, 4]) {
      const args: unknown[] = [...base, params()];
      args[i] = zeroAddress;
      assert.equal(await deployRevertName(t, artifact, args), "ZeroAddress", `address ${i}`);
    }
    assert.equal(await deployRevertName(t, artifact, [...base, params()]), undefined);
    for (const bad of [
      { committeeSize: 0 },
      { committeeSize: 33 },
      { voterPenalty: 51n },
      { challengerRewardBps: 10_001 },
      { commitWindow: 0n },
      { revealWindow: 0n },
      { commitWindow: f.params.disputeWindow, revealWindow: 1n },
    ]) {
      assert.equal(
        await deployRevertName(t, artifact, [...base, params(bad)]),
        "InvalidParameters",
        Object.keys(bad).join(),
      );
    }
  });

  describe("validator set", () => {
    test("registerValidator pulls the bond; deregisterValidator returns it", async () => {
      const d = f.as("validator-1").disputes;
      assert.equal((await d.read.validators()).length, 5);
      const me = t.account("validator-1").address;
      assert.deepEqual(await d.read.validatorOf([me]), [
        true,
        s.validatorAgents.get("validator-1"),
        s.p.validatorBond,
        0n,
      ]);
      assert.equal(await f.balanceOf(f.addresses.disputes), 5n * s.p.validatorBond);
      const before = await f.balanceOf(me);
      const receipt = await f.mined(d.write.deregisterValidator());
      assert.equal(eventsOf(disputesAbi, receipt, "ValidatorDeregistered")[0]?.args.bond, s.p.validatorBond);
      assert.equal(await f.balanceOf(me), before + s.p.validatorBond);
      assert.deepEqual(await d.read.validatorOf([me]), [false, 0n, 0n, 0n]);
      const rest = await d.read.validators();
      assert.equal(rest.length, 4);
      assert.equal(rest.includes(me), false);
      const again = await f.mined(d.write.registerValidator([s.validatorAgents.get("validator-1") ?? 0n]));
      assert.equal(eventsOf(disputesAbi, again, "ValidatorRegistered")[0]?.args.validator, me);
    });

    test("registerValidator reverts NotAgentOwner, AlreadyRegistered and ValidatorSetFull", async () => {
      const d = f.as("client-1").disputes;
      await expectRevert(d.write.registerValidator([s.agentId]), "NotAgentOwner");
      await expectRevert(d.write.registerValidator([999n]), "NotAgentOwner");
      await expectRevert(
        f.as("validator-2").disputes.write.registerValidator([s.validatorAgents.get("validator-2") ?? 0n]),
        "AlreadyRegistered",
      );
      // Fill the set to MAX_VALIDATORS with impersonated accounts.
      const max = Number(await d.read.MAX_VALIDATORS());
      const wallets: Address[] = [];
      for (let i = 5; i <= max; i++) {
        const address = `0x${(0x1000 + i).toString(16).padStart(40, "0")}` as Address;
        await t.testClient.impersonateAccount({ address });
        await t.testClient.setBalance({ address, value: 10n ** 18n });
        wallets.push(address);
      }
      const transport = custom(t.edr.provider, { retryCount: 0 });
      for (const [i, address] of wallets.entries()) {
        const w = createWalletClient({ chain: t.chain, transport, account: address });
        await f.mined(
          w.writeContract({
            address: f.addresses.agentRegistry,
            abi: agentRegistryAbi,
            functionName: "register",
            args: [],
          }),
        );
        const agentId = await f.as("deployer").agents.read.agentCount();
        await f.mint(address, s.p.validatorBond);
        await f.mined(
          w.writeContract({
            address: f.addresses.token,
            abi: testUSDAbi,
            functionName: "approve",
            args: [f.addresses.disputes, maxUint256],
          }),
        );
        const call = w.writeContract({
          address: f.addresses.disputes,
          abi: disputesAbi,
          functionName: "registerValidator",
          args: [agentId],
        });
        if (i < wallets.length - 1) await f.mined(call);
        else await expectRevert(call, "ValidatorSetFull");
      }
      assert.equal((await d.read.validators()).length, max);
    });

    test("deregisterValidator reverts NotValidator, and ValidatorBusy while on a committee", async () => {
      await expectRevert(f.as("client-1").disputes.write.deregisterValidator(), "NotValidator");
      const { committee } = await s.challenge();
      const member = committee[0] ?? "";
      await expectRevert(f.as(member).disputes.write.deregisterValidator(), "ValidatorBusy");
      assert.equal((await f.as(member).disputes.read.validatorOf([t.account(member).address]))[3], 1n);
    });
  });

  describe("challenge", () => {
    test("opens a dispute: pulls the bond, draws a committee, counts an open challenge", async () => {
      const before = await f.balanceOf(s.address("client-2"));
      const { disputeId, committee, receipt, tx } = await s.challenge("client-2");
      assert.equal(disputeId, 1n);
      assert.equal(committee.length, 3);
      assert.equal(new Set(committee).size, 3);
      for (const m of committee) assert.equal(VALIDATORS.includes(m as never), true);
      assert.equal(await f.balanceOf(s.address("client-2")), before - s.p.challengeBond);
      const d = f.as("client-2").disputes;
      assert.equal(await d.read.openChallenges([s.agentId]), 1n);
      const hash = await d.read.receiptHash([receipt]);
      assert.equal(await d.read.disputeOfReceipt([hash]), 1n);
      const dispute = await d.read.getDispute([1n]);
      assert.equal(dispute.status, 1);
      assert.equal(dispute.challenger, s.address("client-2"));
      assert.equal(dispute.payer, s.address("client-1"));
      assert.equal(dispute.charge, receipt.charge);
      const [opened] = eventsOf(disputesAbi, tx, "ChallengeOpened");
      assert.equal(opened?.args.receiptHash, hash);
      assert.equal(opened?.args.evidenceURI, "ipfs://evidence");
      assert.deepEqual(
        (await d.read.committeeOf([1n])).map((a) => a.toLowerCase()),
        committee.map((n) => s.address(n).toLowerCase()),
      );
      // Staking now refuses withdrawals and unpausing for the agent.
      await expectRevert(
        f.as("provider-1").staking.write.withdraw([s.agentId, s.address("provider-1")]),
        "OpenChallenges",
      );
    });

    test("never puts the challenger, the accused's wallet or a validator on an agent its owner holds on the committee", async () => {
      // validator-1 challenges and validator-2's agent now belongs to the provider's owner: only 3, 4
      // and 5 are eligible.
      const v2 = s.validatorAgents.get("validator-2") ?? 0n;
      await f.mined(
        f.as("validator-2").agents.write.transferFrom([s.address("validator-2"), s.address("provider-1"), v2]),
      );
      const first = await s.challenge("validator-1");
      assert.deepEqual([...first.committee].sort(), ["validator-3", "validator-4", "validator-5"]);
      // validator-3 becomes the provider's wallet: it is never drawn.
      await f.mined(
        f.as("provider-1").agents.write.transferFrom([s.address("provider-1"), s.address("validator-2"), v2]),
      );
      await f.setAgentWallet("provider-1", s.agentId, "validator-3");
      for (let i = 0; i < 4; i++) {
        const { committee } = await s.challenge("client-2");
        assert.equal(committee.includes("validator-3"), false);
      }
    });

    test("reverts NotEnoughValidators when too few are eligible", async () => {
      await f.mined(f.as("validator-4").disputes.write.deregisterValidator());
      await f.mined(f.as("validator-5").disputes.write.deregisterValidator());
      await f.setAgentWallet("provider-1", s.agentId, "validator-3");
      const r = await s.receipt();
      const sig = await signReceipt(t, f, r, "provider-1");
      await f.mined(f.as("client-2").disputes.write.challenge([r, f.cfg(r.channelId), sig, evidence, ""]));
      await t.testClient.mine({ blocks: 1 });
      await expectRevert(f.as("client-2").disputes.write.drawCommittee([1n]), "NotEnoughValidators");
      // Fewer registered validators than seats is refused at the challenge already.
      await f.mined(f.as("validator-3").disputes.write.deregisterValidator());
      const r2 = await s.receipt();
      const sig2 = await signReceipt(t, f, r2, "provider-1");
      await expectRevert(
        f.as("client-2").disputes.write.challenge([r2, f.cfg(r2.channelId), sig2, evidence, ""]),
        "NotEnoughValidators",
      );
    });

    test("accepts the agent wallet's signature (set when the channel opened) and a permit for the bond", async () => {
      await f.setAgentWallet("provider-1", s.agentId, "provider-2");
      const config = f.channelConfig("client-1", s.agentId, s.modelId, { salt: 7 });
      const { channelId } = await f.openChannel("client-1", config, 1_000_000n);
      const r = await s.receipt({ channelId });
      const sig = await signReceipt(t, f, r, "provider-2");
      await f.mint(s.address("client-4"), s.p.challengeBond);
      const permit = await f.signPermit("client-4", f.addresses.disputes, s.p.challengeBond, maxUint256);
      await f.mined(
        f
          .as("client-4")
          .disputes.write.challengeWithPermit([
            r,
            f.cfg(r.channelId),
            sig,
            evidence,
            "",
            maxUint256,
            permit.v,
            permit.r,
            permit.s,
          ]),
      );
      assert.equal(await f.balanceOf(s.address("client-4")), 0n);
      assert.equal(await f.as("client-4").disputes.read.disputeCount(), 1n);
    });

    test("reverts with a named error and moves nothing for every bad challenge", async () => {
      const d = f.as("client-2").disputes;
      const good = await s.receipt();
      const sig = await signReceipt(t, f, good, "provider-1");
      const held = await f.balanceOf(f.addresses.disputes);
      const wrongSigner = await signReceipt(t, f, good, "client-1");
      const otherModel = await f.registerModel("modelOwner", 0);
      const mismatched = { ...good, modelId: otherModel };
      const mismatchedSig = await signReceipt(t, f, mismatched, "provider-1");
      const cases: [string, () => Promise<unknown>][] = [
        [
          "UnknownChannel",
          () =>
            d.write.challenge([
              { ...good, channelId: keccak256("0x01") },
              f.cfg({ ...good, channelId: keccak256("0x01") }.channelId),
              sig,
              evidence,
              "",
            ]),
        ],
        [
          "UnknownModel",
          () =>
            d.write.challenge([
              { ...good, modelId: 77n },
              f.cfg({ ...good, modelId: 77n }.channelId),
              sig,
              evidence,
              "",
            ]),
        ],
        [
          "ReceiptChannelMismatch",
          () => d.write.challenge([mismatched, f.cfg(mismatched.channelId), mismatchedSig, evidence, ""]),
        ],
        [
          "ReceiptSignatureInvalid",
          () =>
            d.write.challenge([
              { ...good, charge: good.charge + 1n },
              f.cfg({ ...good, charge: good.charge + 1n }.channelId),
              sig,
              evidence,
              "",
            ]),
        ],
        ["ReceiptSignatureInvalid", () => d.write.challenge([good, f.cfg(good.channelId), wrongSigner, evidence, ""])],
        ["ReceiptSignatureInvalid", () => d.write.challenge([good, f.cfg(good.channelId), "0x1234", evidence, ""])],
      ];
      for (const [name, call] of cases) await expectRevert(call(), name);
      // Bond: no allowance, then no balance.
      await f.approve("client-2", f.addresses.disputes, s.p.challengeBond - 1n);
      await expectRevert(d.write.challenge([good, f.cfg(good.channelId), sig, evidence, ""]), "InsufficientBond");
      await f.approve("client-5", f.addresses.disputes, maxUint256);
      await expectRevert(
        f.as("client-5").disputes.write.challenge([good, f.cfg(good.channelId), sig, evidence, ""]),
        "InsufficientBond",
      );
      await s.approveMax("client-2");
      assert.equal(await f.balanceOf(f.addresses.disputes), held);
      assert.equal(await d.read.disputeCount(), 0n);
      // Duplicate: the same signed receipt, from anyone.
      await s.challenge("client-2", good);
      await expectRevert(
        f.as("client-3").disputes.write.challenge([good, f.cfg(good.channelId), sig, evidence, ""]),
        "AlreadyChallenged",
      );
      // Window: a receipt older than the audit window.
      const now = (await f.publicClient.getBlock()).timestamp;
      const old = await s.receipt({ timestamp: now - f.params.auditWindow - 5n });
      await expectRevert(
        d.write.challenge([old, f.cfg(old.channelId), await signReceipt(t, f, old, "provider-1"), evidence, ""]),
        "ChallengeWindowClosed",
      );
      const edge = await s.receipt({ timestamp: now + 5n - f.params.auditWindow });
      await f.mined(
        d.write.challenge([edge, f.cfg(edge.channelId), await signReceipt(t, f, edge, "provider-1"), evidence, ""]),
      );
    });
  });
});
