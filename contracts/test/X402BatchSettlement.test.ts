/**
 * x402 `batch-settlement` end to end on the test chain, driven by the real `@x402/evm` package:
 * the client scheme signs ERC-3009 deposits and cumulative vouchers, the facilitator scheme (in
 * `x402Facilitator`) verifies them and submits deposit, claimWithSignature, settle and
 * refundWithSignature to Verity's contract at the canonical address.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { computeChannelId } from "@x402/evm/batch-settlement/client";
import { decodeErrorResult, hashTypedData, keccak256, toBytes, zeroAddress } from "viem";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { installX402BatchSettlement } from "../../packages/chain/src/x402-batch-settlement.ts";
import { x402BatchSettlementAbi } from "../generated/index.ts";
import {
  configArg,
  DEPOSIT,
  NETWORK,
  PRICE,
  SETTLEMENT,
  WITHDRAW_DELAY,
  type X402Scene,
  x402Scene,
} from "./x402-helpers.ts";

let t: TestChain;
let s: X402Scene;

before(async () => {
  t = await createTestChain();
  s = await x402Scene(t);
});
after(() => t.close());

const domain = { name: "x402 Batch Settlement", version: "1", chainId: 31337, verifyingContract: SETTLEMENT } as const;

test("the deployment installs the contracts at the canonical addresses once; ids and digests match the package", async () => {
  const again = await installX402BatchSettlement({ client: t.publicClient });
  assert.deepEqual(again.installed, []);
  const p = await s.payer("client-6");
  await p.pay(); // only signs: builds the channel config
  const read = <const fn extends "getChannelId" | "CHANNEL_CONFIG_TYPEHASH">(functionName: fn, args: unknown[]) =>
    s.publicClient.readContract({ address: SETTLEMENT, abi: x402BatchSettlementAbi, functionName, args } as never);
  assert.equal(await read("getChannelId", [configArg(p.config)]), computeChannelId(p.config, NETWORK));
  assert.equal(
    await read("CHANNEL_CONFIG_TYPEHASH", []),
    keccak256(
      toBytes(
        "ChannelConfig(address payer,address payerAuthorizer,address receiver,address receiverAuthorizer,address token,uint40 withdrawDelay,bytes32 salt)",
      ),
    ),
  );
  const digest = await s.publicClient.readContract({
    address: SETTLEMENT,
    abi: x402BatchSettlementAbi,
    functionName: "getVoucherDigest",
    args: [p.channelId, 5n],
  });
  const expected = hashTypedData({
    domain,
    types: {
      Voucher: [
        { name: "channelId", type: "bytes32" },
        { name: "maxClaimableAmount", type: "uint128" },
      ],
    },
    primaryType: "Voucher",
    message: { channelId: p.channelId, maxClaimableAmount: 5n },
  });
  assert.equal(digest, expected);
});

test("with a zero payerAuthorizer the payer signs its vouchers itself, and they claim", async () => {
  // (Runs before the timed withdraw below moves chain time past the ERC-3009 authorizations.)
  const dave = await s.payer("client-4", { payerAuthorizer: zeroAddress });
  for (let i = 0; i < 3; i++) await s.request(dave);
  assert.equal(dave.config.payerAuthorizer, zeroAddress);
  const claimed = await s.facilitator.settle(s.claimPayload([s.claimOf(dave.config, dave.voucher)]), s.requirements);
  assert.equal(claimed.success, true, claimed.errorMessage);
  assert.deepEqual(await s.channelState(dave.channelId), [DEPOSIT, 3n * PRICE]);
  const settled = await s.facilitator.settle(s.settlePayload(), s.requirements);
  assert.equal(settled.amount, (3n * PRICE).toString());
});

test("deposit, top-up, cumulative vouchers, a claim batch with a bad voucher, settle, refund and a timed withdraw", async () => {
  const alice = await s.payer("client-1");
  const bob = await s.payer("client-2");
  const carol = await s.payer("client-3");

  // Alice: 12 paid requests at PRICE on a DEPOSIT of 10 requests: a deposit, vouchers, then a top-up.
  const aliceTypes: string[] = [];
  for (let i = 0; i < 12; i++) aliceTypes.push((await s.request(alice)).type);
  assert.deepEqual(aliceTypes, ["deposit", ...Array(9).fill("voucher"), "deposit", "voucher"]);
  assert.deepEqual(await s.channelState(alice.channelId), [2n * DEPOSIT, 0n]);
  assert.equal(alice.voucher.maxClaimableAmount, (12n * PRICE).toString());
  for (let i = 0; i < 3; i++) await s.request(bob);
  await s.request(carol);

  // A batch where Carol's voucher is forged (signed by Bob for Carol's channel): the contract
  // rejects the whole batch (the facilitator's simulation fails) and nothing is claimed.
  const forged = await bob.client.createPaymentPayload(2, s.requirements); // Bob signs a voucher...
  const forgedVoucher = (forged.payload as { voucher: { signature: `0x${string}` } }).voucher;
  const bad = s.claimOf(carol.config, { ...carol.voucher, signature: forgedVoucher.signature });
  const failed = await s.facilitator.settle(
    s.claimPayload([s.claimOf(alice.config, alice.voucher), s.claimOf(bob.config, bob.voucher), bad]),
    s.requirements,
  );
  assert.equal(failed.success, false);
  assert.equal(failed.errorReason, "invalid_batch_settlement_evm_claim_simulation_failed");
  // The package's ABI lacks the contract's errors: decode the revert data with Verity's.
  const revertData = /return data: (0x[0-9a-f]+)/.exec(failed.errorMessage ?? "")?.[1] as `0x${string}`;
  const reason = decodeErrorResult({ abi: x402BatchSettlementAbi, data: revertData });
  assert.equal(reason.errorName, "InvalidVoucherSignature");
  assert.deepEqual(reason.args, [carol.channelId]);
  assert.deepEqual(await s.channelState(alice.channelId), [2n * DEPOSIT, 0n]);

  // Without the bad voucher the good ones pay; Alice's claim settles less than her cap (charged 11).
  const claimed = await s.facilitator.settle(
    s.claimPayload([
      s.claimOf(alice.config, alice.voucher, (11n * PRICE).toString()),
      s.claimOf(bob.config, bob.voucher),
      s.claimOf(carol.config, carol.voucher),
    ]),
    s.requirements,
  );
  assert.equal(claimed.success, true, claimed.errorMessage);
  assert.deepEqual(await s.channelState(alice.channelId), [2n * DEPOSIT, 11n * PRICE]);
  assert.deepEqual(await s.channelState(bob.channelId), [DEPOSIT, 3n * PRICE]);

  // Alice pays on; the next claim adds only the increase. A stale (lower) claim changes nothing.
  await s.request(alice);
  const second = await s.facilitator.settle(
    s.claimPayload([s.claimOf(alice.config, alice.voucher), s.claimOf(bob.config, bob.voucher, "1000")]),
    s.requirements,
  );
  assert.equal(second.success, true, second.errorMessage);
  assert.deepEqual(await s.channelState(alice.channelId), [2n * DEPOSIT, 13n * PRICE]);
  assert.deepEqual(await s.channelState(bob.channelId), [DEPOSIT, 3n * PRICE]);

  // settle: one transfer of everything claimed for the receiver.
  const receiverBefore = await s.tokenBalance(s.receiver);
  const settled = await s.facilitator.settle(s.settlePayload(), s.requirements);
  assert.equal(settled.success, true, settled.errorMessage);
  assert.equal(settled.amount, (17n * PRICE).toString());
  assert.equal((await s.tokenBalance(s.receiver)) - receiverBefore, 17n * PRICE);
  const nothing = await s.facilitator.settle(s.settlePayload(), s.requirements);
  assert.equal(nothing.errorReason, "invalid_batch_settlement_evm_nothing_to_settle");

  // Cooperative refund of Bob's unclaimed rest, signed by the facilitator's receiver authorizer.
  const bobBefore = await s.tokenBalance(bob.account.address);
  const refundPayload = {
    x402Version: 2,
    accepted: s.requirements,
    payload: {
      type: "refund",
      channelConfig: bob.config,
      voucher: bob.voucher,
      amount: DEPOSIT.toString(),
      refundNonce: "0",
      claims: [],
    },
  } as never;
  const refunded = await s.facilitator.settle(refundPayload, s.requirements);
  assert.equal(refunded.success, true, refunded.errorMessage);
  assert.equal(refunded.amount, (DEPOSIT - 3n * PRICE).toString());
  assert.equal((await s.tokenBalance(bob.account.address)) - bobBefore, DEPOSIT - 3n * PRICE);
  assert.deepEqual(await s.channelState(bob.channelId), [3n * PRICE, 3n * PRICE]);
  const nonce = await s.publicClient.readContract({
    address: SETTLEMENT,
    abi: x402BatchSettlementAbi,
    functionName: "refundNonce",
    args: [bob.channelId],
  });
  assert.equal(nonce, 1n);

  // Timed withdraw of Alice's unclaimed rest: not before the delay, then to the payer.
  const alicePays = s.f.wallet("client-1");
  await s.f.mined(
    alicePays.writeContract({
      address: SETTLEMENT,
      abi: x402BatchSettlementAbi,
      functionName: "initiateWithdraw",
      args: [configArg(alice.config), 2n * DEPOSIT],
    }),
  );
  const pending = await s.facilitator.verify((await alice.pay()) as never, s.requirements);
  assert.ok(Number((pending.extra as { withdrawRequestedAt: number }).withdrawRequestedAt) > 0);
  const finalize = () =>
    alicePays.writeContract({
      address: SETTLEMENT,
      abi: x402BatchSettlementAbi,
      functionName: "finalizeWithdraw",
      args: [configArg(alice.config)],
    });
  await expectRevert(finalize(), "WithdrawNotReady");
  await t.increaseTime(WITHDRAW_DELAY);
  const aliceBefore = await s.tokenBalance(alice.account.address);
  await s.f.mined(finalize());
  assert.equal((await s.tokenBalance(alice.account.address)) - aliceBefore, 2n * DEPOSIT - 13n * PRICE);
  assert.deepEqual(await s.channelState(alice.channelId), [13n * PRICE, 13n * PRICE]);
});
