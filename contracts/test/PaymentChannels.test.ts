/** PaymentChannels: construction, opening, top-ups, withdrawal and views (claims: PaymentChannels.claim.test.ts). */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import {
  domainSeparator,
  encodeAbiParameters,
  getAbiItem,
  hashTypedData,
  keccak256,
  maxUint256,
  parseEventLogs,
  zeroAddress,
} from "viem";
import { expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { paymentChannelsAbi, paymentChannelsBytecode } from "../generated/index.ts";
import { agentFixture, type ChannelConfig, deployRevertName, type Fixture } from "./fixture.ts";
import { voucherTypedData } from "./signing.ts";

const pcArtifact = { abi: paymentChannelsAbi, bytecode: paymentChannelsBytecode };
const DEPOSIT = 1_000_000n;

describe("PaymentChannels", () => {
  let t: TestChain;
  let f: Fixture;
  let agentId: bigint;
  let modelId: bigint;
  let config: ChannelConfig;
  let reset: () => Promise<void>;

  before(async () => {
    ({ t, f, agentId, modelId, reset } = await agentFixture({
      funded: ["client-1"],
      amount: 10n * DEPOSIT,
      spender: "paymentChannels",
    }));
    config = f.channelConfig("client-1", agentId, modelId);
  });
  beforeEach(() => reset());
  after(() => t.close());

  const open = (from: string, c: ChannelConfig, amount = DEPOSIT) => f.as(from).channels.write.open([c, amount]);

  describe("constructor", () => {
    test("rejects zero addresses, a fee above 100% and an inverted delay range", async () => {
      const { token, agentRegistry, modelRegistry, treasury } = f.addresses;
      const ok = [token, agentRegistry, modelRegistry, treasury, 100, 1n, 2n] as const;
      for (const i of [0, 1, 2, 3]) {
        const args: unknown[] = [...ok];
        args[i] = zeroAddress;
        assert.equal(await deployRevertName(t, pcArtifact, args), "ZeroAddress");
      }
      assert.equal(
        await deployRevertName(t, pcArtifact, [token, agentRegistry, modelRegistry, treasury, 10_001, 1n, 2n]),
        "InvalidFeeBps",
      );
      assert.equal(
        await deployRevertName(t, pcArtifact, [token, agentRegistry, modelRegistry, treasury, 100, 3n, 2n]),
        "InvalidWithdrawDelayRange",
      );
      assert.equal(await deployRevertName(t, pcArtifact, ok), undefined);
    });

    test("exposes its configuration and EIP-712 domain", async () => {
      const c = f.as("client-1").channels;
      assert.equal(await c.read.token(), f.addresses.token);
      assert.equal(await c.read.treasury(), f.addresses.treasury);
      assert.equal(await c.read.protocolFeeBps(), 100);
      assert.equal(await c.read.minWithdrawDelay(), f.params.minWithdrawDelay);
      assert.equal(await c.read.maxWithdrawDelay(), f.params.maxWithdrawDelay);
      const domain = {
        name: "Verity PaymentChannels",
        version: "1",
        chainId: t.chain.id,
        verifyingContract: c.address,
      };
      assert.equal(await c.read.domainSeparator(), domainSeparator({ domain }));
      const [, name, version] = await c.read.eip712Domain();
      assert.deepEqual([name, version], ["Verity PaymentChannels", "1"]);
    });
  });

  describe("open", () => {
    test("escrows the deposit, records the channel and emits ChannelOpened", async () => {
      const receipt = await f.mined(open("client-1", config));
      const channelId = await f.channelIdOf(config);
      const [event] = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "ChannelOpened" });
      assert.deepEqual(event?.args, {
        channelId,
        payer: config.payer,
        receiverAgentId: agentId,
        payerAuthorizer: config.payerAuthorizer,
        modelId,
        token: config.token,
        withdrawDelay: config.withdrawDelay,
        salt: config.salt,
        amount: DEPOSIT,
        receiverSigner: t.account("provider-1").address,
      });
      assert.equal(await f.balanceOf(f.addresses.paymentChannels), DEPOSIT);
      const c = f.as("client-1").channels;
      assert.deepEqual(await c.read.getChannel([f.cfg(channelId)]), {
        payer: config.payer,
        payerAuthorizer: config.payerAuthorizer,
        receiverAgentId: agentId,
        modelId,
        withdrawDelay: config.withdrawDelay,
        withdrawableAt: 0n,
        deposit: DEPOSIT,
        claimed: 0n,
        closed: false,
        lastClaimedAt: 0n,
        receiverSigner: t.account("provider-1").address,
      });
      assert.deepEqual(await c.read.paymentOf([config]), [channelId, config.payer, agentId, 0n]);
      assert.deepEqual(await c.read.channelState([channelId]), [DEPOSIT, 0n, 0n, false, 0n]);
    });

    test("channelIdOf is keccak256(abi.encode(config))", async () => {
      const { inputs } = getAbiItem({ abi: paymentChannelsAbi, name: "channelIdOf" });
      assert.equal(await f.channelIdOf(config), keccak256(encodeAbiParameters(inputs, [config])));
    });

    test("reverts for every invalid configuration", async () => {
      await expectRevert(open("client-2", config), "NotPayer");
      await expectRevert(open("client-1", { ...config, token: f.addresses.staking }), "UnsupportedToken");
      await expectRevert(open("client-1", { ...config, payerAuthorizer: zeroAddress }), "InvalidPayerAuthorizer");
      await expectRevert(
        open("client-1", { ...config, withdrawDelay: f.params.minWithdrawDelay - 1n }),
        "WithdrawDelayOutOfRange",
      );
      await expectRevert(
        open("client-1", { ...config, withdrawDelay: f.params.maxWithdrawDelay + 1n }),
        "WithdrawDelayOutOfRange",
      );
      await expectRevert(open("client-1", config, 0n), "ZeroAmount");
      await expectRevert(open("client-1", config, 2n ** 96n), "DepositTooLarge");
      await expectRevert(open("client-1", { ...config, receiverAgentId: 999n }), "UnknownAgent");
      await expectRevert(open("client-1", { ...config, receiverAgentId: 2n ** 32n }), "UnknownAgent");
      await expectRevert(
        open("client-1", { ...config, receiverSigner: t.account("client-1").address }),
        "ReceiverSignerMismatch",
      );
      await expectRevert(open("client-1", { ...config, modelId: 999n }), "UnknownModel");
      await expectRevert(open("client-1", { ...config, modelId: 2n ** 32n }), "UnknownModel");
      await f.mined(open("client-1", config));
      await expectRevert(open("client-1", config), "ChannelExists");
      const other = { ...config, salt: `0x${"11".repeat(32)}` as const };
      await f.mined(open("client-1", other));
      assert.equal(
        (await f.as("client-1").channels.read.getChannel([f.cfg(await f.channelIdOf(other))])).deposit,
        DEPOSIT,
      );
    });

    test("openWithPermit needs no prior approval, and tolerates a front-run permit", async () => {
      const c2 = f.channelConfig("client-2", agentId, modelId);
      await f.mint(c2.payer, 2n * DEPOSIT);
      const p = await f.signPermit("client-2", f.addresses.paymentChannels, DEPOSIT, maxUint256);
      const write = (cfg: ChannelConfig) =>
        f.as("client-2").channels.write.openWithPermit([cfg, DEPOSIT, maxUint256, p.v, p.r, p.s]);
      await f.mined(write(c2));
      assert.equal(await f.balanceOf(f.addresses.paymentChannels), DEPOSIT);
      // Replaying the used permit is ignored; with no allowance left the transfer fails.
      await assert.rejects(f.mined(write({ ...c2, salt: `0x${"22".repeat(32)}` })));
      await f.approve("client-2", f.addresses.paymentChannels, DEPOSIT);
      await f.mined(write({ ...c2, salt: `0x${"22".repeat(32)}` }));
      await expectRevert(write({ ...c2, payer: config.payer }), "NotPayer");
    });
  });

  describe("topUp", () => {
    test("anyone may add to the deposit; only the payer's top-up cancels a pending withdrawal", async () => {
      await f.mined(open("client-1", config));
      const id = await f.channelIdOf(config);
      await f.mint(t.account("client-2").address, DEPOSIT);
      await f.approve("client-2", f.addresses.paymentChannels, DEPOSIT);
      await f.mined(f.as("client-1").channels.write.initiateWithdraw([f.cfg(id)]));
      const third = await f.mined(f.as("client-2").channels.write.topUp([f.cfg(id), 1n]));
      const [ev] = parseEventLogs({ abi: paymentChannelsAbi, logs: third.logs, eventName: "ChannelToppedUp" });
      assert.deepEqual(ev?.args, {
        channelId: id,
        from: t.account("client-2").address,
        amount: 1n,
        deposit: DEPOSIT + 1n,
      });
      assert.notEqual((await f.as("client-1").channels.read.getChannel([f.cfg(id)])).withdrawableAt, 0n);
      const own = await f.mined(f.as("client-1").channels.write.topUp([f.cfg(id), 5n]));
      assert.equal(
        parseEventLogs({ abi: paymentChannelsAbi, logs: own.logs, eventName: "WithdrawCancelled" }).length,
        1,
      );
      const ch = await f.as("client-1").channels.read.getChannel([f.cfg(id)]);
      assert.equal(ch.withdrawableAt, 0n);
      assert.equal(ch.deposit, DEPOSIT + 6n);
      assert.equal(await f.balanceOf(f.addresses.paymentChannels), DEPOSIT + 6n);
    });

    test("reverts for zero, unknown, closed and oversized top-ups", async () => {
      const c = f.as("client-1").channels;
      await f.mined(open("client-1", config));
      const id = await f.channelIdOf(config);
      await expectRevert(c.write.topUp([f.cfg(id), 0n]), "ZeroAmount");
      await expectRevert(c.write.topUp([f.cfg(`0x${"99".repeat(32)}`), 1n]), "ChannelNotFound");
      await expectRevert(c.write.topUp([f.cfg(id), 2n ** 96n - DEPOSIT]), "DepositTooLarge");
      await f.mined(c.write.initiateWithdraw([f.cfg(id)]));
      await t.increaseTime(config.withdrawDelay);
      await f.mined(c.write.finalizeWithdraw([f.cfg(id)]));
      await expectRevert(c.write.topUp([f.cfg(id), 1n]), "ChannelClosed");
    });

    test("topUpWithPermit pulls with the caller's permit", async () => {
      await f.mined(open("client-1", config));
      const id = await f.channelIdOf(config);
      await f.mint(t.account("client-3").address, DEPOSIT);
      const p = await f.signPermit("client-3", f.addresses.paymentChannels, DEPOSIT, maxUint256);
      await f.mined(f.as("client-3").channels.write.topUpWithPermit([f.cfg(id), DEPOSIT, maxUint256, p.v, p.r, p.s]));
      assert.equal((await f.as("client-1").channels.read.getChannel([f.cfg(id)])).deposit, 2n * DEPOSIT);
      await expectRevert(
        f.as("client-3").channels.write.topUpWithPermit([f.cfg(id), 0n, maxUint256, p.v, p.r, p.s]),
        "ZeroAmount",
      );
    });
  });

  describe("withdrawal", () => {
    test("initiate, wait the delay, finalize: refunds the unclaimed rest and closes the channel", async () => {
      const c = f.as("client-1").channels;
      await f.mined(open("client-1", config));
      const id = await f.channelIdOf(config);
      const claim = await f.voucherClaim({ channelId: id, cumulativeAmount: 300_000n, signer: "client-1" });
      await f.mined(f.as("provider-1").channels.write.claim([[claim]]));
      const started = await f.mined(c.write.initiateWithdraw([f.cfg(id)]));
      const block = await t.publicClient.getBlock({ blockNumber: started.blockNumber });
      const readyAt = block.timestamp + config.withdrawDelay;
      const [init] = parseEventLogs({ abi: paymentChannelsAbi, logs: started.logs, eventName: "WithdrawInitiated" });
      assert.deepEqual(init?.args, { channelId: id, withdrawableAt: readyAt });
      await expectRevert(c.write.initiateWithdraw([f.cfg(id)]), "WithdrawAlreadyInitiated");
      await expectRevert(c.write.finalizeWithdraw([f.cfg(id)]), "WithdrawNotReady");
      // The provider can still claim during the delay.
      const later = await f.voucherClaim({ channelId: id, cumulativeAmount: 400_000n, signer: "client-1" });
      await f.mined(f.as("provider-1").channels.write.claim([[later]]));
      await t.increaseTime(config.withdrawDelay);
      const before = await f.balanceOf(config.payer);
      const done = await f.mined(f.as("client-2").channels.write.finalizeWithdraw([f.cfg(id)])); // anyone may finalize
      const [fin] = parseEventLogs({ abi: paymentChannelsAbi, logs: done.logs, eventName: "WithdrawFinalized" });
      assert.deepEqual(fin?.args, { channelId: id, refund: 600_000n });
      assert.equal((await f.balanceOf(config.payer)) - before, 600_000n);
      await f.payOut();
      assert.equal(await f.balanceOf(f.addresses.paymentChannels), 0n);
      assert.equal((await c.read.getChannel([f.cfg(id)])).closed, true);
      const again = await f.voucherClaim({ channelId: id, cumulativeAmount: 500_000n, signer: "client-1" });
      await expectRevert(f.as("provider-1").channels.write.claim([[again]]), "ChannelClosed");
      await expectRevert(c.write.initiateWithdraw([f.cfg(id)]), "ChannelClosed");
      await expectRevert(c.write.finalizeWithdraw([f.cfg(id)]), "ChannelClosed");
    });

    test("claiming less than the cap leaves the rest of the escrow to the payer at finalizeWithdraw", async () => {
      await f.mined(open("client-1", config));
      const channelId = await f.channelIdOf(config);
      const provider = f.as("provider-1").channels;
      // Two requests with a 500,000 ceiling each: vouchers sign charged-so-far + ceiling; the
      // provider charges 120,000 and then 80,000 and claims just that.
      const first = await f.voucherClaim({
        channelId,
        cumulativeAmount: 500_000n,
        amount: 120_000n,
        signer: "client-1",
      });
      const receipt = await f.mined(provider.write.claim([[first]]));
      const [event] = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "Claimed" });
      assert.deepEqual(
        [event?.args.cumulativeAmount, event?.args.voucherAmount, event?.args.increase],
        [120_000n, 500_000n, 120_000n],
      );
      const second = await f.voucherClaim({
        channelId,
        cumulativeAmount: 620_000n,
        amount: 200_000n,
        signer: "client-1",
      });
      await f.mined(provider.write.claim([[second]]));
      assert.equal((await provider.read.getChannel([f.cfg(channelId)])).claimed, 200_000n);
      const c = f.as("client-1").channels;
      await f.mined(c.write.initiateWithdraw([f.cfg(channelId)]));
      await t.increaseTime(config.withdrawDelay);
      const before = await f.balanceOf(config.payer);
      const done = await f.mined(c.write.finalizeWithdraw([f.cfg(channelId)]));
      const [fin] = parseEventLogs({ abi: paymentChannelsAbi, logs: done.logs, eventName: "WithdrawFinalized" });
      // The unused 420,000 of the last cap goes back to the payer with the rest of the deposit.
      assert.deepEqual(fin?.args, { channelId, refund: DEPOSIT - 200_000n });
      assert.equal((await f.balanceOf(config.payer)) - before, DEPOSIT - 200_000n);
      await f.payOut();
      assert.equal(await f.balanceOf(t.account("provider-1").address), 200_000n - 2_000n - 10_000n);
      assert.equal(await f.balanceOf(f.addresses.paymentChannels), 0n);
    });

    test("reverts for non-payers, unknown channels and withdrawals never initiated", async () => {
      await f.mined(open("client-1", config));
      const id = await f.channelIdOf(config);
      const unknown = `0x${"98".repeat(32)}` as const;
      await expectRevert(f.as("client-2").channels.write.initiateWithdraw([f.cfg(id)]), "NotPayer");
      await expectRevert(f.as("client-1").channels.write.initiateWithdraw([f.cfg(unknown)]), "ChannelNotFound");
      await expectRevert(f.as("client-1").channels.write.finalizeWithdraw([f.cfg(unknown)]), "ChannelNotFound");
      await expectRevert(f.as("client-1").channels.write.finalizeWithdraw([f.cfg(id)]), "WithdrawNotInitiated");
    });
  });

  describe("views", () => {
    test("hashVoucher matches viem's EIP-712 digest; getChannel of an unknown id is empty", async () => {
      const c = f.as("client-1").channels;
      const channelId = `0x${"ab".repeat(32)}` as const;
      const domain = { chainId: t.chain.id, verifyingContract: c.address };
      const expected = hashTypedData(voucherTypedData(domain, { channelId, cumulativeAmount: 42n }));
      assert.equal(await c.read.hashVoucher([channelId, 42n]), expected);
      assert.equal((await c.read.getChannel([f.cfg(channelId)])).payer, zeroAddress);
      assert.deepEqual(await c.read.paymentOf([f.cfg(channelId)]), [
        await f.channelIdOf(f.cfg(channelId)),
        zeroAddress,
        0n,
        0n,
      ]);
    });

    test("paymentOf gives each channel's payer, agent and claimed total", async () => {
      const second = { ...config, salt: `0x${"01".repeat(32)}` as const };
      await f.mined(open("client-1", config));
      await f.mined(open("client-1", second));
      const claims = await Promise.all(
        [config, second].map(async (cfg, i) =>
          f.voucherClaim({
            channelId: await f.channelIdOf(cfg),
            cumulativeAmount: BigInt(i + 1) * 1000n,
            signer: "client-1",
          }),
        ),
      );
      await f.mined(f.as("provider-1").channels.write.claim([claims]));
      const c = f.as("client-1").channels;
      assert.deepEqual(await c.read.paymentOf([config]), [await f.channelIdOf(config), config.payer, agentId, 1000n]);
      assert.deepEqual(await c.read.paymentOf([second]), [await f.channelIdOf(second), config.payer, agentId, 2000n]);
    });
  });
});
