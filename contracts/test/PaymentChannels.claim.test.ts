/**
 * PaymentChannels.claim: voucher caps and claimed amounts, who may claim, voucher checks, the
 * three-way split, deposit caps and batching (a bad claim is skipped, the rest are paid).
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { type Address, type Hex, parseEventLogs, toFunctionSelector } from "viem";
import { expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { paymentChannelsAbi, testUSDAbi } from "../generated/index.ts";
import { agentFixture, type ChannelConfig, type Claim, deployFixture, type Fixture } from "./fixture.ts";

const DEPOSIT = 1_000_000n;

describe("PaymentChannels.claim", () => {
  let t: TestChain;
  let f: Fixture;
  let agentId: bigint;
  let modelId: bigint; // 5% royalty to modelOwner
  let reset: () => Promise<void>;
  let salt = 0;

  before(async () => {
    ({ t, f, agentId, modelId, reset } = await agentFixture({
      funded: ["client-1", "client-2"],
      amount: 100n * DEPOSIT,
      spender: "paymentChannels",
    }));
  });
  beforeEach(() => reset());
  after(() => t.close());

  async function openOne(
    options: { payer?: string; agent?: bigint; model?: bigint; authorizer?: string; deposit?: bigint } = {},
  ) {
    const payer = options.payer ?? "client-1";
    const config: ChannelConfig = f.channelConfig(payer, options.agent ?? agentId, options.model ?? modelId, {
      salt: salt++,
      ...(options.authorizer ? { authorizer: options.authorizer } : {}),
    });
    await f.mined(f.as(payer).channels.write.open([config, options.deposit ?? DEPOSIT]));
    return f.channelIdOf(config);
  }
  const claim = (claims: Claim[], from = "provider-1") => f.as(from).channels.write.claim([claims]);
  const claimCall = (claims: Claim[]) =>
    ({
      address: f.addresses.paymentChannels,
      abi: paymentChannelsAbi,
      functionName: "claim",
      args: [claims],
    }) as const;
  /** Sends a failing claim with explicit gas, so it is mined and reverts on-chain; returns its error name. */
  const minedRevert = async (claims: Claim[], from = "provider-1") =>
    (await f.sendReverting(from, claimCall(claims))).errorName;
  /** Simulates a failing claim; returns viem's description of the revert (error name and arguments). */
  async function simulatedRevert(claims: Claim[], from = "provider-1"): Promise<string> {
    try {
      await f.publicClient.simulateContract({ account: f.wallet(from).account, ...claimCall(claims) });
    } catch (error) {
      return String(error);
    }
    return assert.fail("expected the claim to revert");
  }
  const balances = (accounts: Address[]) => Promise.all(accounts.map((a) => f.balanceOf(a)));
  const who = (name: string) => t.account(name).address;

  test("settles the claimed amount, not the cap, split: 1% fee, 5% royalty, the exact rest to the agent owner", async () => {
    const channelId = await openOne();
    const voucher = { channelId, cumulativeAmount: 200_000n, signer: "client-1" };
    const receipt = await f.mined(claim([await f.voucherClaim({ ...voucher, amount: 123_457n })]));
    const [event] = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "Claimed" });
    assert.deepEqual(event?.args, {
      channelId,
      receiverAgentId: agentId,
      cumulativeAmount: 123_457n,
      voucherAmount: 200_000n,
      increase: 123_457n,
      providerAmount: 123_457n - 1_234n - 6_172n,
      royaltyAmount: 6_172n,
      feeAmount: 1_234n,
    });
    // The claim moves no tokens: it credits the agent (share and fee) and the model owner.
    assert.deepEqual(await f.earningsOf(agentId), { earnings: 123_457n - 1_234n - 6_172n, fees: 1_234n });
    assert.equal(await f.creditOf("modelOwner"), 6_172n);
    assert.equal(await f.balanceOf(f.addresses.paymentChannels), DEPOSIT);
    const ch = await f.as("client-1").channels.read.getChannel([f.cfg(channelId)]);
    assert.equal(ch.claimed, 123_457n);
    await f.payOut();
    assert.deepEqual(await balances([who("provider-1"), who("modelOwner"), f.addresses.treasury]), [
      123_457n - 1_234n - 6_172n,
      6_172n,
      1_234n,
    ]);
    assert.equal(await f.balanceOf(f.addresses.paymentChannels), DEPOSIT - 123_457n);
    assert.deepEqual(await f.as("client-1").channels.read.paymentOf([f.cfg(channelId)]), [
      channelId,
      who("client-1"),
      agentId,
      123_457n,
    ]);
    // The same voucher settles more later, up to its cap, paying only the increase; tiny
    // increases round fee and royalty down to zero.
    const next = await f.mined(claim([await f.voucherClaim({ ...voucher, amount: 123_458n })]));
    const [tiny] = parseEventLogs({ abi: paymentChannelsAbi, logs: next.logs, eventName: "Claimed" });
    assert.deepEqual(
      [tiny?.args.increase, tiny?.args.providerAmount, tiny?.args.royaltyAmount, tiny?.args.feeAmount],
      [1n, 1n, 0n, 0n],
    );
  });

  test("pays the agent wallet when one is set, and uses the royalty in force at claim time", async () => {
    const channelId = await openOne();
    await f.setAgentWallet("provider-1", agentId, "provider-6");
    await f.mined(f.as("modelOwner").models.write.lowerRoyalty([modelId, 0]));
    await f.mined(claim([await f.voucherClaim({ channelId, cumulativeAmount: 10_000n, signer: "client-1" })]));
    assert.equal(await f.creditOf("modelOwner"), 0n);
    await f.payOut();
    assert.deepEqual(await balances([who("provider-6"), who("provider-1"), who("modelOwner")]), [9_900n, 0n, 0n]);
  });

  test("caps a voucher at the deposit; the rest is claimable with the same voucher after a top-up", async () => {
    const channelId = await openOne();
    const voucher = await f.voucherClaim({ channelId, cumulativeAmount: 3n * DEPOSIT, signer: "client-1" });
    const receipt = await f.mined(claim([voucher]));
    const [event] = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "Claimed" });
    assert.deepEqual(
      [event?.args.cumulativeAmount, event?.args.voucherAmount, event?.args.increase],
      [DEPOSIT, 3n * DEPOSIT, DEPOSIT],
    );
    assert.equal((await f.as("client-1").channels.read.getChannel([f.cfg(channelId)])).claimed, DEPOSIT);
    await expectRevert(claim([voucher]), "NothingToClaim");
    await f.mined(f.as("client-1").channels.write.topUp([f.cfg(channelId), DEPOSIT]));
    await f.mined(claim([voucher]));
    assert.equal((await f.as("client-1").channels.read.getChannel([f.cfg(channelId)])).claimed, 2n * DEPOSIT);
    await f.payOut();
    assert.equal(await f.balanceOf(f.addresses.paymentChannels), 0n);
  });

  test("rejects a claimed amount above the voucher's cap (ClaimAboveVoucher), moving nothing", async () => {
    const channelId = await openOne();
    const watched = [who("provider-1"), who("modelOwner"), f.addresses.treasury, f.addresses.paymentChannels];
    const before = await balances(watched);
    const over = await f.voucherClaim({ channelId, cumulativeAmount: 5_000n, amount: 5_001n, signer: "client-1" });
    assert.equal(await minedRevert([over]), "ClaimAboveVoucher");
    // Lowering the signed cap to fit the amount breaks the signature instead.
    const lowered = await f.voucherClaim({ channelId, cumulativeAmount: 6_000n, amount: 5_500n, signer: "client-1" });
    await expectRevert(claim([{ ...lowered, cumulativeAmount: 5_400n }]), "ClaimAboveVoucher");
    await expectRevert(claim([{ ...lowered, cumulativeAmount: 5_500n }]), "VoucherSignatureInvalid");
    assert.deepEqual(await balances(watched), before);
    assert.equal((await f.as("client-1").channels.read.getChannel([f.cfg(channelId)])).claimed, 0n);
    await f.mined(claim([{ ...over, amount: 5_000n }]));
  });

  test("only the receiver's owner, approved operators and agent wallet may claim (NotReceiver)", async () => {
    const channelId = await openOne();
    const watched = [who("provider-1"), who("modelOwner"), f.addresses.treasury, f.addresses.paymentChannels];
    const before = await balances(watched);
    const voucher = { channelId, cumulativeAmount: 40_000n, signer: "client-1" };
    for (const stranger of ["validator-1", "client-1", "provider-2"]) {
      const errorName = await minedRevert([await f.voucherClaim({ ...voucher, amount: 10_000n })], stranger);
      assert.equal(errorName, "NotReceiver");
    }
    assert.deepEqual(await balances(watched), before);
    // The owner, an account approved for the agent, an operator of the owner and the agent wallet
    // may; payouts still go to the agent wallet, never to the caller.
    const agents = f.as("provider-1").agents;
    await f.mined(agents.write.approve([who("gateway"), agentId]));
    await f.mined(agents.write.setApprovalForAll([who("validator-2"), true]));
    await f.setAgentWallet("provider-1", agentId, "provider-6");
    for (const [i, receiver] of ["provider-1", "gateway", "validator-2", "provider-6"].entries()) {
      await f.mined(claim([await f.voucherClaim({ ...voucher, amount: BigInt(i + 1) * 10_000n })], receiver));
    }
    await f.payOut();
    assert.deepEqual(await balances([who("gateway"), who("validator-2"), who("provider-6")]), [
      0n,
      0n,
      4n * (10_000n - 100n - 500n),
    ]);
    // A transferred agent is claimed by its new owner only.
    await f.mined(agents.write.transferFrom([who("provider-1"), who("provider-3"), agentId]));
    const more = await f.voucherClaim({ ...voucher, cumulativeAmount: 50_000n });
    await expectRevert(claim([more], "provider-1"), "NotReceiver");
    await f.mined(claim([more], "provider-3"));
  });

  test("checks the caller at every change of agent in a batch, naming the first foreign channel", async () => {
    const agent2 = await f.registerAgent("provider-2");
    const a = await openOne();
    const b = await openOne({ agent: agent2 });
    const c = await openOne();
    const claims = [
      await f.voucherClaim({ channelId: a, cumulativeAmount: 1_000n, signer: "client-1" }),
      await f.voucherClaim({ channelId: b, cumulativeAmount: 1_000n, signer: "client-1" }),
      await f.voucherClaim({ channelId: c, cumulativeAmount: 1_000n, signer: "client-1" }),
    ];
    for (const [caller, foreign] of [
      ["provider-1", b],
      ["provider-2", a],
    ] as const) {
      const error = await simulatedRevert(claims, caller);
      assert.match(error, /NotReceiver/);
      assert.ok(error.includes(foreign));
    }
    // An operator of both owners settles the mixed batch.
    for (const owner of ["provider-1", "provider-2"]) {
      await f.mined(f.as(owner).agents.write.setApprovalForAll([who("gateway"), true]));
    }
    await f.mined(claim(claims, "gateway"));
    assert.deepEqual(await f.earningsOf(agent2), { earnings: 1_000n - 10n - 50n, fees: 10n });
  });

  test("rejects empty batches, unknown channels, stale and replayed vouchers", async () => {
    const channelId = await openOne();
    await expectRevert(claim([]), "NoClaims");
    const unknown = `0x${"77".repeat(32)}` as const;
    await expectRevert(
      claim([await f.voucherClaim({ channelId: unknown, cumulativeAmount: 1n, signer: "client-1" })]),
      "ChannelNotFound",
    );
    const v = await f.voucherClaim({ channelId, cumulativeAmount: 5_000n, signer: "client-1" });
    await f.mined(claim([v]));
    await expectRevert(claim([v]), "VoucherNotIncreasing");
    await expectRevert(
      claim([await f.voucherClaim({ channelId, cumulativeAmount: 4_000n, signer: "client-1" })]),
      "VoucherNotIncreasing",
    );
  });

  test("rejects forged, wrong-chain, wrong-contract and malformed vouchers, moving nothing", async () => {
    const channelId = await openOne({ authorizer: "gateway" });
    const base = { channelId, cumulativeAmount: 5_000n, amount: 5_000n };
    const bad: Claim[] = [
      await f.voucherClaim({ ...base, signer: "client-1" }), // the payer is not the authorizer
      await f.voucherClaim({ ...base, signer: "provider-1" }),
      await f.voucherClaim({ ...base, signer: "gateway", chainId: t.chain.id + 1 }),
      await f.voucherClaim({ ...base, signer: "gateway", verifyingContract: f.addresses.staking }),
      {
        config: f.cfg(channelId),
        cumulativeAmount: base.cumulativeAmount,
        amount: base.amount,
        signature: (await f.signVoucher({ ...base, signer: "gateway" })).slice(0, 130) as Hex,
      },
      { ...(await f.voucherClaim({ ...base, signer: "gateway" })), cumulativeAmount: 5_001n },
    ];
    const watched = [who("provider-1"), who("modelOwner"), f.addresses.treasury, f.addresses.paymentChannels];
    const before = await balances(watched);
    for (const c of bad) {
      // Mined anyway (explicit gas skips estimation): the transaction reverts on-chain.
      assert.equal(await minedRevert([c]), "VoucherSignatureInvalid");
    }
    assert.deepEqual(await balances(watched), before);
    assert.equal((await f.as("client-1").channels.read.getChannel([f.cfg(channelId)])).claimed, 0n);
    await f.mined(claim([await f.voucherClaim({ ...base, signer: "gateway" })]));
  });

  test("a batched claim with one bad voucher still pays the rest", async () => {
    const [a, b, c] = [await openOne(), await openOne({ payer: "client-2" }), await openOne()];
    const watched = [who("provider-1"), who("modelOwner"), f.addresses.treasury, f.addresses.paymentChannels];
    const before = await balances(watched);
    const claims = [
      await f.voucherClaim({ channelId: a, cumulativeAmount: 10_000n, signer: "client-1" }),
      await f.voucherClaim({ channelId: b, cumulativeAmount: 20_000n, signer: "client-1" }), // not b's authorizer
      await f.voucherClaim({ channelId: c, cumulativeAmount: 30_000n, signer: "client-1" }),
    ];
    const receipt = await f.mined(claim(claims));
    const paid = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "Claimed" });
    assert.deepEqual(
      paid.map((e) => [e.args.channelId, e.args.increase]),
      [
        [a, 10_000n],
        [c, 30_000n],
      ],
    );
    const skipped = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "ClaimSkipped" });
    assert.deepEqual(
      skipped.map((e) => e.args),
      [{ channelId: b, reason: toFunctionSelector("VoucherSignatureInvalid(bytes32)") }],
    );
    // Exactly the two valid claims were credited: 40,000 split 1% / 5% / rest.
    assert.deepEqual(await f.earningsOf(agentId), { earnings: 40_000n - 400n - 2_000n, fees: 400n });
    assert.equal(await f.creditOf("modelOwner"), 2_000n);
    await f.payOut();
    const after = await balances(watched);
    assert.deepEqual(
      after.map((v, i) => v - (before[i] ?? 0n)),
      [40_000n - 400n - 2_000n, 2_000n, 400n, -40_000n],
    );
    const read = f.as("client-1").channels.read;
    assert.deepEqual(await Promise.all([a, b, c].map(async (id) => (await read.getChannel([f.cfg(id)])).claimed)), [
      10_000n,
      0n,
      30_000n,
    ]);
    // Once the payer signs b correctly, it settles on its own.
    await f.mined(claim([await f.voucherClaim({ channelId: b, cumulativeAmount: 20_000n, signer: "client-2" })]));
    assert.equal((await read.getChannel([f.cfg(b)])).claimed, 20_000n);
  });

  test("a batch over several agents and models credits each recipient its exact total, moving no tokens", async () => {
    const agent2 = await f.registerAgent("provider-2");
    await f.setAgentWallet("provider-2", agent2, "provider-5");
    const model2 = await f.registerModel("validator-5", 2_000);
    const plan = [
      { agent: agentId, model: modelId, amount: 10_000n },
      { agent: agentId, model: modelId, amount: 20_000n },
      { agent: agentId, model: model2, amount: 30_000n },
      { agent: agent2, model: model2, amount: 40_000n },
      { agent: agent2, model: model2, amount: 50_000n },
      { agent: agentId, model: modelId, amount: 60_000n },
    ];
    const claims: Claim[] = [];
    for (const [i, p] of plan.entries()) {
      const payer = i % 2 === 0 ? "client-1" : "client-2";
      const channelId = await openOne({ payer, agent: p.agent, model: p.model });
      claims.push(await f.voucherClaim({ channelId, cumulativeAmount: p.amount, signer: payer }));
    }
    for (const owner of ["provider-1", "provider-2"]) {
      await f.mined(f.as(owner).agents.write.setApprovalForAll([who("gateway"), true]));
    }
    const receipt = await f.mined(claim(claims, "gateway"));
    const events = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "Claimed" });
    assert.equal(events.length, plan.length);
    const expected = new Map<Address, bigint>();
    const add = (a: Address, v: bigint) => expected.set(a, (expected.get(a) ?? 0n) + v);
    const credited = new Map<string, bigint>();
    const credit = (key: string, v: bigint) => credited.set(key, (credited.get(key) ?? 0n) + v);
    for (const [i, p] of plan.entries()) {
      const fee = (p.amount * 100n) / 10_000n;
      const royalty = (p.amount * (p.model === modelId ? 500n : 2_000n)) / 10_000n;
      const e = events[i]!.args;
      assert.deepEqual(
        [e.increase, e.feeAmount, e.royaltyAmount, e.providerAmount],
        [p.amount, fee, royalty, p.amount - fee - royalty],
      );
      add(p.agent === agentId ? who("provider-1") : who("provider-5"), p.amount - fee - royalty);
      add(p.model === modelId ? who("modelOwner") : who("validator-5"), royalty);
      add(f.addresses.treasury, fee);
      credit(`earnings-${p.agent}`, p.amount - fee - royalty);
      credit(`fees-${p.agent}`, fee);
      credit(p.model === modelId ? "modelOwner" : "validator-5", royalty);
    }
    for (const agent of [agentId, agent2]) {
      assert.deepEqual(await f.earningsOf(agent), {
        earnings: credited.get(`earnings-${agent}`),
        fees: credited.get(`fees-${agent}`),
      });
    }
    for (const owner of ["modelOwner", "validator-5"]) assert.equal(await f.creditOf(owner), credited.get(owner));
    // The claim moved no tokens; paying out moves each recipient's exact total.
    assert.equal(parseEventLogs({ abi: testUSDAbi, logs: receipt.logs, eventName: "Transfer" }).length, 0);
    await f.payOut();
    for (const [account, amount] of expected) assert.equal(await f.balanceOf(account), amount, account);
  });

  test("caps the royalty so fee plus royalty never exceed the increase", async () => {
    const g = await deployFixture(t, { protocolFeeBps: 9_000 });
    const agent = await g.registerAgent("provider-3");
    const model = await g.registerModel("modelOwner", 2_000);
    const config = g.channelConfig("client-3", agent, model);
    const { channelId } = await g.openChannel("client-3", config, 10_000n);
    const receipt = await g.mined(
      g
        .as("provider-3")
        .channels.write.claim([[await g.voucherClaim({ channelId, cumulativeAmount: 10_000n, signer: "client-3" })]]),
    );
    const [event] = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "Claimed" });
    assert.deepEqual(
      [event?.args.feeAmount, event?.args.royaltyAmount, event?.args.providerAmount],
      [9_000n, 1_000n, 0n],
    );
  });
});
