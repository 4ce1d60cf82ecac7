/**
 * Attacks on the payouts of PaymentChannels: claims credit the provider's share and the protocol fee
 * to the agent and the royalty to the model owner, and `withdrawEarnings`, `collectFees` and
 * `withdrawCredits` pay them out. A stranger withdrawing an agent's earnings, a withdrawal raced
 * against a wallet change, a double withdrawal, fees collected by anyone (to anyone but the
 * treasury, or twice by listing an agent twice), credits withdrawn to the zero address, a model
 * transfer moving royalties already earned, and earnings growing past what one account holds.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { type Address, encodeFunctionData, type Hex, maxUint256, parseEventLogs } from "viem";
import type { TestChain } from "../../packages/chain/src/testing.ts";
import {
  paymentChannelsAbi,
  paymentChannelsBytecode,
  reentrantTokenAbi,
  reentrantTokenBytecode,
} from "../generated/index.ts";
import { agentFixture, type ChannelConfig, deployFixture, type Fixture } from "./fixture.ts";

const DEPOSIT = 1_000_000n;

describe("PaymentChannels payout attacks", () => {
  let t: TestChain;
  let f: Fixture;
  let agentId: bigint;
  let modelId: bigint;
  let reset: () => Promise<void>;
  let salt = 0;
  const who = (name: string) => t.account(name).address;
  const call = (functionName: string, args: readonly unknown[]) =>
    ({ address: f.addresses.paymentChannels, abi: paymentChannelsAbi, functionName, args }) as const;

  before(async () => {
    ({ t, f, agentId, modelId, reset } = await agentFixture({
      funded: ["client-1"],
      amount: 100n * DEPOSIT,
      spender: "paymentChannels",
    }));
  });
  beforeEach(() => reset());
  after(() => t.close());

  /** Opens a channel of client-1 to `agent` and claims `amount` on it as `claimer`. */
  async function claimed(amount: bigint, agent = agentId, model = modelId, claimer = "provider-1"): Promise<Hex> {
    const config: ChannelConfig = f.channelConfig("client-1", agent, model, { salt: salt++ });
    await f.mined(f.as("client-1").channels.write.open([config, DEPOSIT]));
    const channelId = await f.channelIdOf(config);
    const claim = await f.voucherClaim({ channelId, cumulativeAmount: amount, signer: "client-1" });
    await f.mined(f.as(claimer).channels.write.claim([[claim]]));
    return channelId;
  }
  const balances = (accounts: Address[]) => Promise.all(accounts.map((a) => f.balanceOf(a)));

  test("attack: a stranger withdraws an agent's earnings (NotAgentReceiver); its receiver side pays the agent wallet only", async () => {
    await claimed(10_000n);
    const owed = 10_000n - 100n - 500n;
    const watched = [who("provider-1"), who("validator-1"), who("gateway"), f.addresses.paymentChannels];
    const before = await balances(watched);
    for (const stranger of ["validator-1", "client-1", "modelOwner", "treasury"]) {
      const { errorName } = await f.sendReverting(stranger, call("withdrawEarnings", [agentId]));
      assert.equal(errorName, "NotAgentReceiver");
    }
    assert.deepEqual(await balances(watched), before);
    assert.deepEqual(await f.earningsOf(agentId), { earnings: owed, fees: 100n });
    // An approved operator may trigger the payout, but the tokens go to the agent's wallet.
    await f.mined(f.as("provider-1").agents.write.setApprovalForAll([who("gateway"), true]));
    const receipt = await f.mined(f.as("gateway").channels.write.withdrawEarnings([agentId]));
    const [event] = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "EarningsWithdrawn" });
    assert.deepEqual(event?.args, { agentId, to: who("provider-1"), amount: owed });
    const after = await balances(watched);
    assert.deepEqual(
      after.map((v, i) => v - (before[i] ?? 0n)),
      [owed, 0n, 0n, -owed],
    );
    assert.deepEqual(await f.earningsOf(agentId), { earnings: 0n, fees: 100n });
  });

  test("attack: earnings credited before a wallet change are paid to the current wallet, not the old one", async () => {
    await claimed(10_000n);
    await f.setAgentWallet("provider-1", agentId, "provider-6");
    // The old wallet key (the owner here) still may trigger it; the tokens go to the new wallet.
    await f.mined(f.as("provider-1").channels.write.withdrawEarnings([agentId]));
    assert.deepEqual(await balances([who("provider-1"), who("provider-6")]), [0n, 9_400n]);
    // The agent wallet itself may withdraw what later claims credit.
    await claimed(20_000n, agentId, modelId, "provider-6");
    await f.mined(f.as("provider-6").channels.write.withdrawEarnings([agentId]));
    assert.deepEqual(await balances([who("provider-1"), who("provider-6")]), [0n, 9_400n + 18_800n]);
    // A transferred agent pays its new owner's side: the old owner may no longer withdraw.
    await claimed(10_000n);
    await f.mined(f.as("provider-1").agents.write.transferFrom([who("provider-1"), who("provider-3"), agentId]));
    const { errorName } = await f.sendReverting("provider-1", call("withdrawEarnings", [agentId]));
    assert.equal(errorName, "NotAgentReceiver");
    // The transfer cleared the agent wallet: earnings now go to the new owner, none to the old wallet.
    await f.mined(f.as("provider-3").channels.write.withdrawEarnings([agentId]));
    assert.deepEqual(await balances([who("provider-1"), who("provider-6"), who("provider-3")]), [0n, 28_200n, 9_400n]);
  });

  test("attack: a receiver withdraws twice to be paid twice (NothingToWithdraw)", async () => {
    await claimed(50_000n);
    await f.mined(f.as("provider-1").channels.write.withdrawEarnings([agentId]));
    const before = await balances([who("provider-1"), f.addresses.paymentChannels]);
    const { errorName } = await f.sendReverting("provider-1", call("withdrawEarnings", [agentId]));
    assert.equal(errorName, "NothingToWithdraw");
    assert.deepEqual(await balances([who("provider-1"), f.addresses.paymentChannels]), before);
    // Paid once: 47,000 of the 50,000 claimed (fee and royalty still held for their owners).
    assert.deepEqual(before, [47_000n, DEPOSIT - 47_000n]);
    // An agent that never claimed has nothing either.
    const idle = await f.registerAgent("provider-2");
    assert.equal(
      (await f.sendReverting("provider-2", call("withdrawEarnings", [idle]))).errorName,
      "NothingToWithdraw",
    );
  });

  test("attack: anyone collects fees, but only to the treasury, and an agent listed twice pays once", async () => {
    const agent2 = await f.registerAgent("provider-2");
    await claimed(10_000n); // fee 100
    await claimed(30_000n, agent2, modelId, "provider-2"); // fee 300
    const watched = [who("validator-1"), f.addresses.treasury, f.addresses.paymentChannels];
    const before = await balances(watched);
    const receipt = await f.mined(f.as("validator-1").channels.write.collectFees([[agentId, agentId, agent2, 99n]]));
    const [event] = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "FeesCollected" });
    assert.deepEqual(event?.args, { treasury: f.addresses.treasury, amount: 400n });
    assert.deepEqual(
      (await balances(watched)).map((v, i) => v - (before[i] ?? 0n)),
      [0n, 400n, -400n],
    );
    // Collected fees are gone; the providers' earnings are untouched.
    assert.deepEqual(await f.earningsOf(agentId), { earnings: 9_400n, fees: 0n });
    assert.deepEqual(await f.earningsOf(agent2), { earnings: 28_200n, fees: 0n });
    const again = await f.sendReverting("validator-1", call("collectFees", [[agentId, agent2]]));
    assert.equal(again.errorName, "NothingToWithdraw");
    assert.equal((await f.sendReverting("validator-1", call("collectFees", [[]]))).errorName, "NothingToWithdraw");
  });

  test("attack: royalties withdrawn to the zero address (ZeroAddress), by a stranger, or twice", async () => {
    await claimed(10_000n); // royalty 500
    assert.equal(await f.creditOf("modelOwner"), 500n);
    const zero = "0x0000000000000000000000000000000000000000";
    assert.equal((await f.sendReverting("modelOwner", call("withdrawCredits", [zero]))).errorName, "ZeroAddress");
    // A stranger withdraws its own (empty) credit, never the owner's.
    const stranger = await f.sendReverting("validator-1", call("withdrawCredits", [who("validator-1")]));
    assert.equal(stranger.errorName, "NothingToWithdraw");
    assert.equal(await f.creditOf("modelOwner"), 500n);
    // The owner names where its royalties go.
    const receipt = await f.mined(f.as("modelOwner").channels.write.withdrawCredits([who("validator-2")]));
    const [event] = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "CreditsWithdrawn" });
    assert.deepEqual(event?.args, { owner: who("modelOwner"), to: who("validator-2"), amount: 500n });
    assert.deepEqual(await balances([who("modelOwner"), who("validator-2")]), [0n, 500n]);
    const twice = await f.sendReverting("modelOwner", call("withdrawCredits", [who("modelOwner")]));
    assert.equal(twice.errorName, "NothingToWithdraw");
  });

  test("attack: a model transfer moves royalties already earned (it does not: new claims credit the new owner)", async () => {
    await claimed(10_000n);
    await f.mined(f.as("modelOwner").models.write.transferModel([modelId, who("validator-4")]));
    await claimed(20_000n);
    assert.equal(await f.creditOf("modelOwner"), 500n);
    assert.equal(await f.creditOf("validator-4"), 1_000n);
    await f.mined(f.as("modelOwner").channels.write.withdrawCredits([who("modelOwner")]));
    await f.mined(f.as("validator-4").channels.write.withdrawCredits([who("validator-4")]));
    assert.deepEqual(await balances([who("modelOwner"), who("validator-4")]), [500n, 1_000n]);
  });

  test("every payout leaves the contract holding exactly the open escrow once everything is paid out", async () => {
    const agent2 = await f.registerAgent("provider-2");
    const model2 = await f.registerModel("validator-5", 2_000);
    const ids = [
      await claimed(10_000n),
      await claimed(20_000n, agent2, model2, "provider-2"),
      await claimed(30_000n, agentId, model2),
    ];
    await f.payOut();
    assert.equal(await f.balanceOf(f.addresses.paymentChannels), 3n * DEPOSIT - 60_000n);
    assert.deepEqual(await f.earningsOf(agentId), { earnings: 0n, fees: 0n });
    assert.equal(await f.creditOf("validator-5"), 0n);
    assert.equal(ids.length, 3);
  });
});

describe("PaymentChannels earnings overflow", () => {
  test("an agent's credited earnings past 2^104 - 1 revert the claim (EarningsOverflow) until it withdraws", async () => {
    // Each channel holds at most 2^96 - 1, so only more than 256 full channels of one agent, all
    // claimed before any withdrawal, can reach it: 257 channels with no fee and no royalty.
    const { createTestChain } = await import("../../packages/chain/src/testing.ts");
    const t = await createTestChain();
    try {
      const f = await deployFixture(t, { protocolFeeBps: 0 });
      const agent = await f.registerAgent("provider-1");
      const model = await f.registerModel("modelOwner", 0);
      const full = 2n ** 96n - 1n;
      await f.mint(t.account("client-1").address, 257n * full);
      await f.approve("client-1", f.addresses.paymentChannels, maxUint256);
      const claims = [];
      for (let i = 0; i < 257; i++) {
        const config = f.channelConfig("client-1", agent, model, { salt: i });
        await f.mined(f.as("client-1").channels.write.open([config, full]));
        const channelId = await f.channelIdOf(config);
        claims.push(await f.voucherClaim({ channelId, cumulativeAmount: full, signer: "client-1" }));
      }
      const provider = f.as("provider-1").channels;
      for (let i = 0; i < 256; i += 64) await f.mined(provider.write.claim([claims.slice(i, i + 64)]));
      assert.deepEqual(await f.earningsOf(agent), { earnings: 256n * full, fees: 0n });
      const call = {
        address: f.addresses.paymentChannels,
        abi: paymentChannelsAbi,
        functionName: "claim",
        args: [claims.slice(256)],
      } as const;
      assert.equal((await f.sendReverting("provider-1", call)).errorName, "EarningsOverflow");
      await f.mined(provider.write.withdrawEarnings([agent]));
      await f.mined(provider.write.claim([claims.slice(256)]));
      assert.deepEqual(await f.earningsOf(agent), { earnings: full, fees: 0n });
    } finally {
      await t.close();
    }
  });
});

describe("PaymentChannels payouts through a hostile token", () => {
  test("attack: a token calling back into a payout, a claim or another payout mid-transfer (ReentrancyGuardReentrantCall)", async () => {
    const { createTestChain } = await import("../../packages/chain/src/testing.ts");
    const t = await createTestChain();
    try {
      const f = await deployFixture(t);
      const deployer = f.wallet("deployer");
      const deployed = async (hash: Promise<Hex>) => {
        const address = (await f.mined(hash)).contractAddress;
        if (!address) throw new Error("no contract deployed");
        return address;
      };
      const token = await deployed(
        deployer.deployContract({ abi: reentrantTokenAbi, bytecode: reentrantTokenBytecode }),
      );
      const { agentRegistry, modelRegistry, treasury } = f.addresses;
      const channels = await deployed(
        deployer.deployContract({
          abi: paymentChannelsAbi,
          bytecode: paymentChannelsBytecode,
          args: [
            token,
            agentRegistry,
            modelRegistry,
            treasury,
            100,
            f.params.minWithdrawDelay,
            f.params.maxWithdrawDelay,
          ],
        }),
      );
      const agent = await f.registerAgent("provider-1");
      const model = await f.registerModel("modelOwner", 500);
      const payer = t.account("client-1").address;
      const tokenAs = (name: string) => ({ address: token, abi: reentrantTokenAbi, account: f.wallet(name).account });
      const channelsAs = (name: string) => ({
        address: channels,
        abi: paymentChannelsAbi,
        account: f.wallet(name).account,
      });
      await f.mined(
        f.wallet("client-1").writeContract({ ...tokenAs("client-1"), functionName: "mint", args: [payer, DEPOSIT] }),
      );
      await f.mined(
        f
          .wallet("client-1")
          .writeContract({ ...tokenAs("client-1"), functionName: "approve", args: [channels, DEPOSIT] }),
      );
      const config = { ...f.channelConfig("client-1", agent, model), token };
      f.remember(config);
      await f.mined(
        f
          .wallet("client-1")
          .writeContract({ ...channelsAs("client-1"), functionName: "open", args: [config, DEPOSIT] }),
      );
      const channelId = await f.publicClient.readContract({
        address: channels,
        abi: paymentChannelsAbi,
        functionName: "channelIdOf",
        args: [config],
      });
      const claim = await f.voucherClaim({
        channelId,
        cumulativeAmount: 10_000n,
        signer: "client-1",
        verifyingContract: channels,
      });
      await f.mined(
        f.wallet("provider-1").writeContract({ ...channelsAs("provider-1"), functionName: "claim", args: [[claim]] }),
      );
      // The token may act as the agent's operator, so a call back would pass every check but the guard.
      await f.mined(f.as("provider-1").agents.write.setApprovalForAll([token, true]));
      const more = await f.voucherClaim({
        channelId,
        cumulativeAmount: 20_000n,
        signer: "client-1",
        verifyingContract: channels,
      });
      const callbacks = [
        encodeFunctionData({ abi: paymentChannelsAbi, functionName: "withdrawEarnings", args: [agent] }),
        encodeFunctionData({ abi: paymentChannelsAbi, functionName: "collectFees", args: [[agent]] }),
        encodeFunctionData({ abi: paymentChannelsAbi, functionName: "withdrawCredits", args: [token] }),
        encodeFunctionData({ abi: paymentChannelsAbi, functionName: "claim", args: [[more]] }),
      ];
      const payouts = [
        { from: "provider-1", functionName: "withdrawEarnings", args: [agent] },
        { from: "validator-1", functionName: "collectFees", args: [[agent]] },
        { from: "modelOwner", functionName: "withdrawCredits", args: [t.account("modelOwner").address] },
      ] as const;
      const balance = (account: Address) =>
        f.publicClient.readContract({
          address: token,
          abi: reentrantTokenAbi,
          functionName: "balanceOf",
          args: [account],
        });
      for (const payout of payouts) {
        for (const callback of callbacks) {
          await f.mined(
            f
              .wallet("client-1")
              .writeContract({ ...tokenAs("client-1"), functionName: "arm", args: [channels, callback] }),
          );
          const { errorName } = await f.sendReverting(payout.from, {
            address: channels,
            abi: paymentChannelsAbi,
            functionName: payout.functionName,
            args: payout.args,
          });
          assert.equal(errorName, "ReentrancyGuardReentrantCall", `${payout.functionName} re-entered`);
          assert.equal(await balance(channels), DEPOSIT);
        }
      }
      // Disarmed, each pays once.
      await f.mined(
        f.wallet("client-1").writeContract({
          ...tokenAs("client-1"),
          functionName: "arm",
          args: ["0x0000000000000000000000000000000000000000", "0x"],
        }),
      );
      for (const payout of payouts) {
        await f.mined(
          f.wallet(payout.from).writeContract({
            ...channelsAs(payout.from),
            functionName: payout.functionName,
            args: payout.args,
          } as never),
        );
      }
      assert.equal(await balance(channels), DEPOSIT - 10_000n);
    } finally {
      await t.close();
    }
  });
});
