/**
 * Attacks on batched PaymentChannels.claim: a payer holding back a whole batch with one bad
 * voucher, a stranger moving money through a receiver's batch, a replayed batch. Every skipped
 * claim carries the selector of the error it fails with alone, and a batch with nothing to pay
 * reverts with its first claim's error.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { type Address, type Hex, parseEventLogs, toFunctionSelector } from "viem";
import type { TestChain } from "../../packages/chain/src/testing.ts";
import { paymentChannelsAbi } from "../generated/index.ts";
import { agentFixture, type ChannelConfig, type Claim, type Fixture } from "./fixture.ts";

const DEPOSIT = 100_000n;

describe("PaymentChannels.claim attacks", () => {
  let t: TestChain;
  let f: Fixture;
  let agentId: bigint;
  let modelId: bigint;
  let reset: () => Promise<void>;
  let salt = 0;
  const who = (name: string) => t.account(name).address;
  const selector = (signature: string) => toFunctionSelector(signature);

  before(async () => {
    ({ t, f, agentId, modelId, reset } = await agentFixture({
      funded: ["client-1", "client-2"],
      amount: 100n * DEPOSIT,
      spender: "paymentChannels",
    }));
  });
  beforeEach(() => reset());
  after(() => t.close());

  async function openOne(payer = "client-1"): Promise<Hex> {
    const config: ChannelConfig = f.channelConfig(payer, agentId, modelId, { salt: salt++ });
    await f.mined(f.as(payer).channels.write.open([config, DEPOSIT]));
    return f.channelIdOf(config);
  }
  const call = (claims: Claim[]) =>
    ({ address: f.addresses.paymentChannels, abi: paymentChannelsAbi, functionName: "claim", args: [claims] }) as const;
  const watched = () => [
    who("provider-1"),
    who("client-1"),
    who("client-2"),
    who("validator-1"),
    who("modelOwner"),
    f.addresses.treasury,
    f.addresses.paymentChannels,
  ];
  const balances = (accounts: Address[]) => Promise.all(accounts.map((a) => f.balanceOf(a)));
  /** Token balances of the watched accounts once everything claims credited is paid out. */
  const paidBalances = async () => {
    await f.payOut();
    return balances(watched());
  };
  const claimedOf = async (id: Hex) => (await f.as("client-1").channels.read.getChannel([f.cfg(id)])).claimed;

  test("attack: a payer signs one voucher wrongly to hold back payment of every channel in the batch", async () => {
    const honest = [await openOne(), await openOne()];
    const attacker = await openOne("client-2");
    const claims = [
      await f.voucherClaim({ channelId: honest[0]!, cumulativeAmount: 7_000n, signer: "client-1" }),
      await f.voucherClaim({ channelId: attacker, cumulativeAmount: 9_000n, signer: "validator-1" }), // wrong key
      await f.voucherClaim({ channelId: honest[1]!, cumulativeAmount: 3_000n, signer: "client-1" }),
    ];
    const before = await paidBalances();
    const receipt = await f.mined(f.as("provider-1").channels.write.claim([claims]));
    const skipped = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "ClaimSkipped" });
    assert.deepEqual(
      skipped.map((e) => e.args),
      [{ channelId: attacker, reason: selector("VoucherSignatureInvalid(bytes32)") }],
    );
    // The provider is paid for both honest channels; the attacker's channel pays nothing and
    // the attacker's deposit stays in escrow.
    const delta = (await paidBalances()).map((v, i) => v - (before[i] ?? 0n));
    assert.deepEqual(delta, [10_000n - 100n - 500n, 0n, 0n, 0n, 500n, 100n, -10_000n]);
    assert.deepEqual(await Promise.all([...honest, attacker].map(claimedOf)), [7_000n, 3_000n, 0n]);
  });

  test("attack: a stranger slips claims into a batch to move a receiver's money", async () => {
    const closed = await openOne();
    await f.mined(f.as("client-1").channels.write.initiateWithdraw([f.cfg(closed)]));
    await t.increaseTime(f.params.maxWithdrawDelay);
    await f.mined(f.as("client-1").channels.write.finalizeWithdraw([f.cfg(closed)]));
    const open = await openOne();
    const unknown = `0x${"55".repeat(32)}` as Hex;
    // Skippable claims first, then a valid voucher of the provider's channel: the stranger is
    // still refused for the whole batch, and nothing moves.
    const claims = [
      await f.voucherClaim({ channelId: unknown, cumulativeAmount: 1n, signer: "client-1" }),
      await f.voucherClaim({ channelId: closed, cumulativeAmount: 1_000n, signer: "client-1" }),
      await f.voucherClaim({ channelId: open, cumulativeAmount: 5_000n, signer: "client-1" }),
    ];
    const before = await paidBalances();
    const { errorName } = await f.sendReverting("validator-1", call(claims));
    assert.equal(errorName, "NotReceiver");
    assert.deepEqual(await paidBalances(), before);
    assert.equal(await claimedOf(open), 0n);
    // Only skippable claims: the batch reverts with the first one's error, also for a stranger.
    const { errorName: first } = await f.sendReverting("validator-1", call(claims.slice(0, 2)));
    assert.equal(first, "ChannelNotFound");
    assert.deepEqual(await paidBalances(), before);
  });

  test("attack: a receiver replays a settled batch to be paid twice", async () => {
    const a = await openOne();
    const b = await openOne();
    const claims = [
      await f.voucherClaim({ channelId: a, cumulativeAmount: 4_000n, signer: "client-1" }),
      await f.voucherClaim({ channelId: b, cumulativeAmount: 6_000n, signer: "client-1" }),
    ];
    await f.mined(f.as("provider-1").channels.write.claim([claims]));
    const before = await paidBalances();
    const { errorName } = await f.sendReverting("provider-1", call(claims));
    assert.equal(errorName, "VoucherNotIncreasing");
    assert.deepEqual(await paidBalances(), before);
    // Replayed claims next to a new one: only the new increase is paid.
    const more = await f.voucherClaim({ channelId: b, cumulativeAmount: 8_000n, signer: "client-1" });
    const receipt = await f.mined(f.as("provider-1").channels.write.claim([[...claims, more]]));
    const paid = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "Claimed" });
    assert.deepEqual(
      paid.map((e) => [e.args.channelId, e.args.increase]),
      [[b, 2_000n]],
    );
    const reasons = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "ClaimSkipped" });
    const notIncreasing = selector("VoucherNotIncreasing(bytes32,uint256,uint256)");
    assert.deepEqual(
      reasons.map((e) => [e.args.channelId, e.args.reason]),
      [
        [a, notIncreasing],
        [b, notIncreasing],
      ],
    );
    const delta = (await paidBalances()).map((v, i) => v - (before[i] ?? 0n));
    assert.deepEqual(delta, [2_000n - 20n - 100n, 0n, 0n, 0n, 100n, 20n, -2_000n]);
  });

  test("every kind of bad claim is skipped with its error's selector; only the valid claim pays", async () => {
    const [ok, closed, full, other] = [await openOne(), await openOne(), await openOne(), await openOne()];
    await f.mined(f.as("client-1").channels.write.initiateWithdraw([f.cfg(closed)]));
    await t.increaseTime(f.params.maxWithdrawDelay);
    await f.mined(f.as("client-1").channels.write.finalizeWithdraw([f.cfg(closed)]));
    const fullVoucher = await f.voucherClaim({ channelId: full, cumulativeAmount: DEPOSIT, signer: "client-1" });
    await f.mined(f.as("provider-1").channels.write.claim([[fullVoucher]]));
    const v = (channelId: Hex, cumulativeAmount: bigint, amount?: bigint) =>
      f.voucherClaim({ channelId, cumulativeAmount, signer: "client-1", ...(amount ? { amount } : {}) });
    const claims = [
      await v(`0x${"66".repeat(32)}`, 1n),
      await v(closed, 1_000n),
      await v(other, 1_000n, 1_001n),
      await v(full, DEPOSIT),
      { ...(await v(other, 2_000n)), cumulativeAmount: 2_001n, amount: 2_001n },
      await v(full, 2n * DEPOSIT),
      await v(ok, 1_000n),
    ];
    const receipt = await f.mined(f.as("provider-1").channels.write.claim([claims]));
    const reasons = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "ClaimSkipped" });
    assert.deepEqual(
      reasons.map((e) => e.args.reason),
      [
        "ChannelNotFound(bytes32)",
        "ChannelClosed(bytes32)",
        "ClaimAboveVoucher(bytes32,uint256,uint256)",
        "VoucherNotIncreasing(bytes32,uint256,uint256)",
        "VoucherSignatureInvalid(bytes32)",
        "NothingToClaim(bytes32)",
      ].map(selector),
    );
    const paid = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "Claimed" });
    assert.deepEqual(
      paid.map((e) => [e.args.channelId, e.args.increase]),
      [[ok, 1_000n]],
    );
    assert.deepEqual(await Promise.all([ok, other, full].map(claimedOf)), [1_000n, 0n, DEPOSIT]);
  });
});
