/**
 * A provider tries to void receipts it already signed by changing who its agent's signer is: moving
 * the agent NFT, unsetting its agent wallet or replacing it. The receipt signer of a channel is fixed
 * when the channel opens (`ChannelView.receiverSigner`), so every such receipt stays challengeable
 * and a guilty verdict still slashes the provider's stake and refunds the payer.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { keccak256, toHex } from "viem";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { disputesAbi, stakingAbi } from "../generated/index.ts";
import { type DisputeScene, disputeScene, signReceipt } from "./disputes-helpers.ts";
import { deployFixture, type Fixture, rewinder } from "./fixture.ts";
import { eventsOf } from "./helpers.ts";

const STAKE = 500_000_000n;
const PAID = 4_000n;

describe("receipt signer fixed at channel open", () => {
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

  /** Challenges `receipt` signed by `signer`, convicts, and checks the slash and the payer's refund. */
  async function convictsAndRefunds(channelId: `0x${string}`, signer: string, change: () => Promise<unknown>) {
    await s.claim(PAID, channelId);
    const receipt = await s.receipt({ channelId, cumulativeCharged: PAID });
    const payerBefore = await f.balanceOf(s.address("client-1"));
    await change();
    const { disputeId, committee } = await s.challenge("client-2", receipt, signer);
    const tx = await s.convict(disputeId, committee);
    const [resolved] = eventsOf(disputesAbi, tx, "DisputeResolved");
    assert.equal(resolved?.args.guilty, true);
    assert.equal(resolved?.args.refunded, PAID);
    assert.equal(eventsOf(stakingAbi, tx, "Slashed")[0]?.args.amount, s.p.slashAmount);
    assert.equal(await f.balanceOf(s.address("client-1")), payerBefore + PAID, "payer refunded what it paid");
    const [bonded] = await f.as("client-1").staking.read.stakeOf([s.agentId]);
    assert.equal(bonded, STAKE - s.p.slashAmount, "the provider's stake was slashed");
  }

  test("getChannel names the signer fixed at open: the agent wallet if set, else the owner", async () => {
    const c = f.as("client-1").channels;
    assert.equal((await c.read.getChannel([f.cfg(s.channelId)])).receiverSigner, s.address("provider-1"));
    await f.setAgentWallet("provider-1", s.agentId, "provider-2");
    const config = f.channelConfig("client-1", s.agentId, s.modelId, { salt: 9 });
    const { channelId } = await f.openChannel("client-1", config, 1_000_000n);
    assert.equal((await c.read.getChannel([f.cfg(channelId)])).receiverSigner, s.address("provider-2"));
  });

  test("attack: provider transfers its agent NFT after serving so its receipts no longer verify", async () => {
    await convictsAndRefunds(s.channelId, "provider-1", () =>
      f.mined(
        f.as("provider-1").agents.write.transferFrom([s.address("provider-1"), s.address("provider-2"), s.agentId]),
      ),
    );
  });

  test("attack: provider unsets its agent wallet after serving so the wallet's receipts no longer verify", async () => {
    await f.setAgentWallet("provider-1", s.agentId, "provider-2");
    const config = f.channelConfig("client-1", s.agentId, s.modelId, { salt: 10 });
    const { channelId } = await f.openChannel("client-1", config, 1_000_000n);
    await convictsAndRefunds(channelId, "provider-2", () =>
      f.mined(f.as("provider-1").agents.write.unsetAgentWallet([s.agentId])),
    );
  });

  test("attack: provider replaces its agent wallet after serving so the old wallet's receipts no longer verify", async () => {
    await f.setAgentWallet("provider-1", s.agentId, "provider-2");
    const config = f.channelConfig("client-1", s.agentId, s.modelId, { salt: 11 });
    const { channelId } = await f.openChannel("client-1", config, 1_000_000n);
    await convictsAndRefunds(channelId, "provider-2", () => f.setAgentWallet("provider-1", s.agentId, "provider-3"));
  });

  test("attack: provider signs with the agent's new wallet on an old channel to disown the receipt later", async () => {
    // The channel opened with the owner as signer: a receipt signed by a later wallet is not the
    // channel's receipt (the client refuses it too), and it moves nothing.
    await f.setAgentWallet("provider-1", s.agentId, "provider-2");
    const r = await s.receipt();
    const sig = await signReceipt(t, f, r, "provider-2");
    const held = await f.balanceOf(f.addresses.disputes);
    await expectRevert(
      f.as("client-2").disputes.write.challenge([r, f.cfg(r.channelId), sig, keccak256(toHex("e")), ""]),
      "ReceiptSignatureInvalid",
    );
    assert.equal(await f.balanceOf(f.addresses.disputes), held);
  });
});
