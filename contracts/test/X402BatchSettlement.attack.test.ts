/**
 * Attacks on Verity's x402 batch-settlement contract: claims by someone other than the receiver's
 * authorizer, replayed refund signatures, vouchers moved to another channel, claims above the
 * balance or the voucher, early withdrawals, replayed ERC-3009 deposits, a collector called
 * directly, a collector that delivers nothing. Payloads come from the real `@x402/evm` client.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import {
  computeChannelId,
  createBatchSettlementEIP3009DepositPayload,
  signVoucher,
} from "@x402/evm/batch-settlement/client";
import { encodeAbiParameters, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { erc3009DepositCollectorAbi, testUSDAbi, x402BatchSettlementAbi } from "../generated/index.ts";
import { rewinder } from "./chain-helpers.ts";
import {
  type ChannelConfig,
  COLLECTOR,
  claimArg,
  configArg,
  DEPOSIT,
  NETWORK,
  PRICE,
  SETTLEMENT,
  type X402Scene,
  x402Scene,
} from "./x402-helpers.ts";

let t: TestChain;
let s: X402Scene;
let alice: Awaited<ReturnType<X402Scene["payer"]>>;
let bob: Awaited<ReturnType<X402Scene["payer"]>>;
let depositArgs: readonly [ReturnType<typeof configArg>, bigint, `0x${string}`, Hex];
let rewind: () => Promise<void>;

const domain = { name: "x402 Batch Settlement", version: "1", chainId: 31337, verifyingContract: SETTLEMENT } as const;

before(async () => {
  t = await createTestChain();
  s = await x402Scene(t);
  alice = await s.payer("client-1");
  bob = await s.payer("client-2");
  const first = await s.request(alice); // deposit
  const auth = (first.payload.payload as { deposit: { authorization: { erc3009Authorization: Erc3009 } } }).deposit
    .authorization.erc3009Authorization;
  depositArgs = [configArg(alice.config), DEPOSIT, COLLECTOR, collectorData(auth)];
  for (let i = 0; i < 2; i++) await s.request(alice); // vouchers up to 3 * PRICE
  await s.request(bob);
  rewind = rewinder(t);
});
beforeEach(() => rewind());
after(() => t.close());

type Erc3009 = { validAfter: string; validBefore: string; salt: Hex; signature: Hex };

/** What the facilitator passes the ERC-3009 collector: `abi.encode(validAfter, validBefore, salt, signature)`. */
function collectorData(auth: Erc3009): Hex {
  return encodeAbiParameters(
    [{ type: "uint256" }, { type: "uint256" }, { type: "uint256" }, { type: "bytes" }],
    [BigInt(auth.validAfter), BigInt(auth.validBefore), BigInt(auth.salt), auth.signature],
  );
}

function write(from: string, functionName: string, args: readonly unknown[]) {
  return s.f
    .wallet(from)
    .writeContract({ address: SETTLEMENT, abi: x402BatchSettlementAbi, functionName, args } as never);
}

function signClaimBatch(key: "validator-1" | "validator-2", claims: ReturnType<typeof s.claimOf>[]) {
  return s.f.wallet(key).signTypedData({
    domain,
    types: {
      ClaimBatch: [{ name: "claims", type: "ClaimEntry[]" }],
      ClaimEntry: [
        { name: "channelId", type: "bytes32" },
        { name: "maxClaimableAmount", type: "uint128" },
        { name: "totalClaimed", type: "uint128" },
      ],
    },
    primaryType: "ClaimBatch",
    message: {
      claims: claims.map((c) => ({
        channelId: computeChannelId(c.voucher.channel, NETWORK),
        maxClaimableAmount: BigInt(c.voucher.maxClaimableAmount),
        totalClaimed: BigInt(c.totalClaimed),
      })),
    },
  });
}

test("only the receiver authorizer claims: a direct claim by anyone else and a batch signed by anyone else revert", async () => {
  const claims = [s.claimOf(alice.config, alice.voucher)];
  await expectRevert(write("provider-1", "claim", [claims.map(claimArg)]), "NotReceiverAuthorizer");
  await expectRevert(write("client-1", "claim", [claims.map(claimArg)]), "NotReceiverAuthorizer");
  const forged = await signClaimBatch("validator-2", claims);
  await expectRevert(
    write("client-3", "claimWithSignature", [claims.map(claimArg), forged]),
    "InvalidAuthorizerSignature",
  );
  await expectRevert(write("client-3", "claimWithSignature", [[], forged]), "EmptyClaimBatch");
  // The authorizer itself may claim directly; anyone may submit its signed batch.
  await s.f.mined(write("validator-1", "claim", [claims.map(claimArg)]));
  assert.deepEqual(await s.channelState(alice.channelId), [DEPOSIT, 3n * PRICE]);
});

test("a refund signature works once: the replay reverts with InvalidRefundNonce", async () => {
  const refundSig = await s.f.wallet("validator-1").signTypedData({
    domain,
    types: {
      Refund: [
        { name: "channelId", type: "bytes32" },
        { name: "nonce", type: "uint256" },
        { name: "amount", type: "uint128" },
      ],
    },
    primaryType: "Refund",
    message: { channelId: alice.channelId, nonce: 0n, amount: 1_000n },
  });
  const args = [configArg(alice.config), 1_000n, 0n, refundSig] as const;
  await s.f.mined(write("client-3", "refundWithSignature", args));
  await expectRevert(write("client-3", "refundWithSignature", args), "InvalidRefundNonce");
  // A signature for nonce 1 by someone else is refused too; a direct refund needs the authorizer.
  await expectRevert(write("client-1", "refund", [configArg(alice.config), 1_000n]), "NotReceiverAuthorizer");
  assert.deepEqual(await s.channelState(alice.channelId), [DEPOSIT - 1_000n, 0n]);
});

test("a voucher signed for one channel does not claim another", async () => {
  // Alice's voucher, presented with Bob's channel: the signature covers Alice's channel id.
  const moved = s.claimOf(bob.config, alice.voucher, PRICE.toString());
  await expectRevert(write("validator-1", "claim", [[claimArg(moved)]]), "InvalidVoucherSignature");
  // Alice's signature over Bob's channel id does not pass for Bob either.
  const foreign = await signVoucher(alice.account, bob.channelId, PRICE.toString(), NETWORK);
  await expectRevert(
    write("validator-1", "claim", [[claimArg(s.claimOf(bob.config, foreign))]]),
    "InvalidVoucherSignature",
  );
});

test("a claim never exceeds the balance or the voucher's cap", async () => {
  const over = (DEPOSIT + 1n).toString();
  const big = await signVoucher(alice.account, alice.channelId, over, NETWORK);
  await expectRevert(write("validator-1", "claim", [[claimArg(s.claimOf(alice.config, big))]]), "ClaimExceedsBalance");
  const aboveCap = s.claimOf(alice.config, alice.voucher, (3n * PRICE + 1n).toString());
  await expectRevert(write("validator-1", "claim", [[claimArg(aboveCap)]]), "ClaimExceedsVoucher");
  // The facilitator refuses the over-balance voucher before any transaction.
  const verified = await s.facilitator.verify(
    {
      x402Version: 2,
      accepted: s.requirements,
      payload: { type: "voucher", channelConfig: alice.config, voucher: big },
    } as never,
    s.requirements,
  );
  assert.equal(verified.invalidReason, "invalid_batch_settlement_evm_cumulative_exceeds_balance");
});

test("a withdrawal waits for the delay, and only the payer starts one", async () => {
  const config = configArg(alice.config);
  await expectRevert(write("client-1", "finalizeWithdraw", [config]), "NoPendingWithdrawal");
  await expectRevert(write("provider-1", "initiateWithdraw", [config, DEPOSIT]), "NotPayer");
  await expectRevert(write("client-1", "initiateWithdraw", [config, 0n]), "ZeroAmount");
  await s.f.mined(write("client-1", "initiateWithdraw", [config, DEPOSIT]));
  await expectRevert(write("client-1", "finalizeWithdraw", [config]), "WithdrawNotReady");
  await t.increaseTime(alice.config.withdrawDelay - 10);
  await expectRevert(write("client-1", "finalizeWithdraw", [config]), "WithdrawNotReady");
  // During the delay the receiver still claims what it charged; the withdrawal gets the rest.
  await s.f.mined(write("validator-1", "claim", [[claimArg(s.claimOf(alice.config, alice.voucher))]]));
  await t.increaseTime(10);
  const before = await s.tokenBalance(alice.account.address);
  await s.f.mined(write("provider-1", "finalizeWithdraw", [config]));
  assert.equal((await s.tokenBalance(alice.account.address)) - before, DEPOSIT - 3n * PRICE);
  await expectRevert(write("client-1", "initiateWithdraw", [configArg(bob.config), 1n]), "NotPayer");
});

test("an ERC-3009 deposit authorization funds once: replaying it reverts with AuthorizationAlreadyUsed", async () => {
  // The token's error bubbles up through the collector: decode it with the token's ABI too.
  const abi = [...x402BatchSettlementAbi, ...testUSDAbi.filter((item) => item.type === "error")];
  const replay = s.f
    .wallet("gateway")
    .writeContract({ address: SETTLEMENT, abi, functionName: "deposit", args: depositArgs } as never);
  await expectRevert(replay, "AuthorizationAlreadyUsed");
  assert.deepEqual(await s.channelState(alice.channelId), [DEPOSIT, 0n]);
});

test("the collector serves only the batch-settlement contract, and deposits credit only what arrived", async () => {
  // Calling the collector directly with the payer's signature would hand the caller the tokens.
  const [config, amount, , data] = depositArgs;
  await expectRevert(
    s.f.wallet("client-3").writeContract({
      address: COLLECTOR,
      abi: erc3009DepositCollectorAbi,
      functionName: "collect",
      args: [config.payer, config.token, amount, alice.channelId, data],
    }),
    "CallerNotBatchSettlement",
  );
  // A "collector" that accepts the call and delivers nothing (code: STOP) credits nothing.
  const liar = "0x000000000000000000000000000000000000dEaD" as const;
  await t.testClient.setCode({ address: liar, bytecode: "0x00" });
  await expectRevert(write("client-3", "deposit", [config, amount, liar, data]), "DepositAmountMismatch");
  await expectRevert(write("client-3", "deposit", [config, 0n, COLLECTOR, data]), "ZeroAmount");
  const badDelay: ChannelConfig = { ...alice.config, withdrawDelay: 899 };
  await expectRevert(write("client-3", "deposit", [badDelay, amount, COLLECTOR, data]), "WithdrawDelayOutOfRange");
  const noReceiver: ChannelConfig = { ...alice.config, receiver: "0x0000000000000000000000000000000000000000" };
  await expectRevert(write("client-3", "deposit", [noReceiver, amount, COLLECTOR, data]), "InvalidChannelConfig");
});

test("settle and refund with nothing to move revert", async () => {
  await expectRevert(write("client-3", "settle", [s.receiver, s.f.addresses.token]), "NothingToSettle");
  await s.f.mined(write("validator-1", "refund", [configArg(alice.config), DEPOSIT]));
  await expectRevert(write("validator-1", "refund", [configArg(alice.config), 1n]), "NothingToRefund");
  await expectRevert(write("client-1", "initiateWithdraw", [configArg(alice.config), 1n]), "ChannelNotFound");
});

test("a batch mixing receivers credits each receiver with its own channels' claims only", async () => {
  // A channel of client-3 to provider-2 (same receiver authorizer), funded through the package.
  const other = t.account("provider-2").address;
  const payer = privateKeyToAccount(t.account("client-3").privateKey);
  await s.f.mint(payer.address, DEPOSIT);
  const config: ChannelConfig = {
    ...alice.config,
    payer: payer.address,
    payerAuthorizer: payer.address,
    receiver: other,
  };
  const requirements = { ...s.requirements, payTo: other };
  const { payload } = await createBatchSettlementEIP3009DepositPayload(
    payer,
    2,
    requirements,
    config,
    DEPOSIT.toString(),
    "1",
  );
  const auth = (payload as { deposit: { authorization: { erc3009Authorization: Erc3009 } } }).deposit.authorization
    .erc3009Authorization;
  await s.f.mined(write("gateway", "deposit", [config, DEPOSIT, COLLECTOR, collectorData(auth)]));
  const otherId = computeChannelId(config, NETWORK);
  const otherVoucher = await signVoucher(payer, otherId, "700", NETWORK);
  const bobClaim = s.claimOf(bob.config, bob.voucher);
  // Interleaved: provider-1, provider-2, provider-1.
  const claims = [s.claimOf(alice.config, alice.voucher), s.claimOf(config, otherVoucher), bobClaim];
  await s.f.mined(write("validator-1", "claim", [claims.map(claimArg)]));
  const receiverState = (address: `0x${string}`) =>
    s.publicClient.readContract({
      address: SETTLEMENT,
      abi: x402BatchSettlementAbi,
      functionName: "receivers",
      args: [address, s.f.addresses.token],
    });
  assert.deepEqual(await receiverState(s.receiver), [4n * PRICE, 0n]);
  assert.deepEqual(await receiverState(other), [700n, 0n]);
  const before = await s.tokenBalance(other);
  await s.f.mined(write("client-3", "settle", [other, s.f.addresses.token]));
  assert.equal((await s.tokenBalance(other)) - before, 700n);
});
