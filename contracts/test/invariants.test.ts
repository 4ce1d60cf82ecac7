/**
 * Model-based property test of PaymentChannels: random sequences of open / topUp / claim /
 * initiateWithdraw / finalizeWithdraw / withdrawEarnings / collectFees / withdrawCredits / time
 * advance run against the chain and a JS model written from the rules, not from the contract. A
 * claim moves no tokens: it credits the provider's share and the fee to the agent and the royalty
 * to the model owner; the payouts pay those credits out (earnings to the agent's wallet, for its
 * receiver side only; fees to the treasury, for anyone, each agent once however often listed;
 * royalties to where the owner names). Claims come in batches: vouchers signed for a cap, each
 * settling a random amount at or below it (later claims may raise the amount under an earlier
 * voucher's cap), with stale, replayed, forged, wrong-chain, wrong-contract, unknown-channel and
 * above-cap claims slipped in (sometimes only those, sometimes none at all), sent by a receiver
 * (owner, operator, agent wallet) or by a stranger. The model judges each claim on its own: a bad
 * one is skipped and the others are paid; a caller that is not the receiver of a live channel in the
 * batch, or a batch with nothing to pay, reverts. After every step: per channel, deposited − claimed
 * − refunded == what it still escrows; the token balance of PaymentChannels == Σ open channels'
 * (deposit − claimed) + Σ earnings + Σ fees + Σ royalty credits not yet withdrawn; the credits the
 * contract reports match the model; every balance matches the model (failed calls move nothing); claimed
 * never exceeds the highest cap the authorizer signed and equals the highest accepted claim amount
 * capped by the deposit at its claim; every split is exact; a partial batch emits `Claimed` for
 * exactly the valid claims and `ClaimSkipped` with the predicted error for each other one; and
 * every failing call reverted with the predicted error.
 */
import assert from "node:assert/strict";
import { after, before } from "node:test";
import fc from "fast-check";
import { type Address, type Hex, keccak256, parseEventLogs, toFunctionSelector, toHex } from "viem";
import { formatAbiItem } from "viem/utils";
import { createTestChain, type TestChain } from "../../packages/chain/src/testing.ts";
import { paymentChannelsAbi } from "../generated/index.ts";
import { type ChannelConfig, type Claim, configId, deployFixture, type Fixture, rewinder } from "./fixture.ts";
import { callsTo, type Harness, harness, modelTest, outcomes } from "./invariant-harness.ts";

const BAD_VOUCHERS = ["stale", "replay", "forged", "wrongChain", "wrongContract", "unknown", "aboveCap"] as const;
/** `valid`: a fresh voucher; `raise`: the channel's last voucher again, settling more of its cap. */
type VoucherKind = "valid" | "raise" | (typeof BAD_VOUCHERS)[number];
/**
 * One claim: a voucher whose cap is `delta` above what the channel has claimed (the request's
 * ceiling), settling `percent` of that step (at least 1).
 */
type ClaimItem = { ch: number; voucher: VoucherKind; delta: bigint; percent: number };
type Op =
  | { kind: "open"; payer: number; agent: number; model: number; amount: bigint }
  | { kind: "topUp"; ch: number; byPayer: boolean; amount: bigint }
  | { kind: "claim"; items: ClaimItem[]; caller: number }
  | { kind: "initiate"; ch: number; byPayer: boolean }
  | { kind: "finalize"; ch: number; wait: boolean }
  | { kind: "time"; seconds: number }
  | { kind: "withdrawEarnings"; agent: number; caller: number }
  | { kind: "collectFees"; agents: number[] }
  | { kind: "withdrawCredits"; owner: number; to: number };

/**
 * Who sends a claim batch; `receives` lists the agents (by index) it may claim for: provider-4 is an
 * operator of both agent owners, provider-1 and provider-2 the owners, provider-5 the wallet of
 * agent 1, validator-3 a stranger.
 */
const CALLERS: readonly { name: string; receives: readonly number[] }[] = [
  { name: "provider-4", receives: [0, 1] },
  { name: "provider-1", receives: [0] },
  { name: "provider-2", receives: [1] },
  { name: "provider-5", receives: [1] },
  { name: "validator-3", receives: [] },
];
/** Who calls `withdrawCredits`: the two model owners, and an account never credited. */
const CREDIT_OWNERS = ["modelOwner", "validator-5", "validator-3"] as const;
/** Where `withdrawCredits` pays: the owner itself or another account. */
const CREDIT_TARGETS = ["self", "validator-1"] as const;
/** Mostly the operator, so that batches mixing both agents often succeed. */
const callerArb = fc.oneof(
  { arbitrary: fc.constant(0), weight: 7 },
  { arbitrary: fc.integer({ min: 1, max: CALLERS.length - 1 }), weight: 3 },
);

const amount = fc.bigInt({ min: 1n, max: 1_000_000n });
/** Voucher increases: mostly small steps, sometimes past the deposit (capped, then NothingToClaim). */
const delta = fc.oneof(
  { arbitrary: fc.bigInt({ min: 1n, max: 50_000n }), weight: 5 },
  { arbitrary: fc.bigInt({ min: 1n, max: 1_500_000n }), weight: 1 },
);
/** How much of a voucher's step the provider charged: often all of it, else part of it. */
const percent = fc.oneof(
  { arbitrary: fc.constant(100), weight: 1 },
  { arbitrary: fc.integer({ min: 0, max: 100 }), weight: 2 },
);
const openArb = fc.record({
  kind: fc.constant("open" as const),
  payer: fc.nat(2),
  agent: fc.nat(1),
  model: fc.nat(1),
  amount,
});
/** A claim a receiver would send: a fresh voucher, or (one time in three) more of the last voucher's cap. */
const goodClaim = fc.record({
  ch: fc.nat(),
  voucher: fc.constantFrom<VoucherKind>("valid", "valid", "raise"),
  delta,
  percent,
});
const badClaim = fc.record({ ch: fc.nat(), voucher: fc.constantFrom(...BAD_VOUCHERS), delta, percent, at: fc.nat() });
/**
 * A batch of good claims with up to two bad claims slipped in somewhere (none half of the time),
 * from a random caller. Either part may be empty: only bad claims, or rarely an empty batch.
 */
const claimArb = fc
  .record({
    items: fc.oneof(
      { arbitrary: fc.array(goodClaim, { minLength: 1, maxLength: 5 }), weight: 9 },
      { arbitrary: fc.constant([]), weight: 1 },
    ),
    bad: fc.oneof(
      { arbitrary: fc.constant([]), weight: 2 },
      { arbitrary: fc.array(badClaim, { minLength: 1, maxLength: 2 }), weight: 2 },
    ),
    caller: callerArb,
  })
  .map(({ items, bad, caller }): Op => {
    const batch: ClaimItem[] = [...items];
    for (const b of bad) batch.splice(b.at % (batch.length + 1), 0, b);
    return { kind: "claim", items: batch, caller };
  });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: openArb, weight: 2 },
  {
    arbitrary: fc.record({ kind: fc.constant("topUp" as const), ch: fc.nat(), byPayer: fc.boolean(), amount }),
    weight: 1,
  },
  { arbitrary: claimArb, weight: 5 },
  {
    arbitrary: fc.record({
      kind: fc.constant("initiate" as const),
      ch: fc.nat(),
      byPayer: fc.oneof(fc.constant(true), fc.boolean()),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ kind: fc.constant("finalize" as const), ch: fc.nat(), wait: fc.boolean() }), weight: 2 },
  {
    arbitrary: fc.record({ kind: fc.constant("time" as const), seconds: fc.constantFrom(60, 450, 901, 2_000) }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ kind: fc.constant("withdrawEarnings" as const), agent: fc.nat(1), caller: callerArb }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("collectFees" as const),
      agents: fc.array(fc.nat(1), { minLength: 0, maxLength: 3 }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("withdrawCredits" as const),
      owner: fc.nat(CREDIT_OWNERS.length - 1),
      to: fc.nat(1),
    }),
    weight: 1,
  },
);
/** Sequences start by opening a few channels so most steps have something to act on. */
const sequenceArb = fc
  .tuple(fc.array(openArb, { minLength: 1, maxLength: 4 }), fc.array(opArb, { minLength: 1, maxLength: 30 }))
  .map(([opens, rest]): Op[] => [...opens, ...rest]);

type ModelChannel = {
  id: Hex;
  payer: string;
  authorizer: string;
  agent: number;
  recipient: Address;
  royaltyOwner: Address;
  royaltyBps: bigint;
  delay: bigint;
  deposit: bigint;
  claimed: bigint;
  closed: boolean;
  withdrawableAt: bigint;
  /** Highest cap the authorizer signed for this channel (submitted or not). */
  maxSigned: bigint;
  /** Highest `min(amount, deposit)` over the accepted claims (what `claimed` must equal). */
  maxAccepted: bigint;
  /** Ledger of the channel's token flows: everything deposited, paid out by claims, refunded. */
  deposited: bigint;
  paidOut: bigint;
  refunded: bigint;
  lastClaim?: Claim;
};

let t: TestChain;
let f: Fixture;
let h: Harness;
let reset: () => Promise<void>;
const PAYERS = [
  { payer: "client-1", authorizer: "client-1" },
  { payer: "client-2", authorizer: "client-2" },
  { payer: "client-3", authorizer: "gateway" },
];
const agents: { id: bigint; recipient: Address }[] = [];
const models: { id: bigint; owner: Address; bps: bigint }[] = [];
let watched: Address[];
let salt = 0;
const seen = outcomes();

before(async () => {
  t = await createTestChain();
  f = await deployFixture(t);
  h = harness(t, f);
  agents.push({ id: await f.registerAgent("provider-1"), recipient: t.account("provider-1").address });
  const second = await f.registerAgent("provider-2");
  await f.setAgentWallet("provider-2", second, "provider-5");
  agents.push({ id: second, recipient: t.account("provider-5").address });
  models.push({ id: await f.registerModel("modelOwner", 500), owner: t.account("modelOwner").address, bps: 500n });
  models.push({
    id: await f.registerModel("validator-5", 2_000),
    owner: t.account("validator-5").address,
    bps: 2_000n,
  });
  for (const owner of ["provider-1", "provider-2"]) {
    await f.mined(f.as(owner).agents.write.setApprovalForAll([t.account("provider-4").address, true]));
  }
  await f.fund(["client-1", "client-2", "client-3", "validator-1"], 10n ** 12n, f.addresses.paymentChannels);
  const accounts = ["client-1", "client-2", "client-3", "validator-1", "modelOwner", "validator-5"];
  // Every claim caller is watched too: payouts never go to the caller unless it is the recipient.
  for (const c of CALLERS) if (!accounts.includes(c.name)) accounts.push(c.name);
  watched = [...accounts.map((n) => t.account(n).address), f.addresses.treasury, f.addresses.paymentChannels];
  reset = rewinder(t);
});
after(() => t.close());

async function runSequence(ops: Op[]): Promise<void> {
  await reset();
  const channels: ModelChannel[] = [];
  const { balances, credit } = await h.expectedBalances(watched);
  const ledger = newLedger();
  const pc = f.addresses.paymentChannels;
  const call = callsTo(pc, paymentChannelsAbi);
  const pick = (i: number) => channels[i % channels.length];

  for (const op of ops) {
    if (op.kind === "open") {
      const { payer, authorizer } = PAYERS[op.payer]!;
      const agent = agents[op.agent]!;
      const model = models[op.model]!;
      const config: ChannelConfig = f.channelConfig(payer, agent.id, model.id, { authorizer, salt: salt++ });
      await h.sendPredicted(payer, call("open", [config, op.amount]), undefined);
      const id = await f.channelIdOf(config);
      channels.push({
        id,
        payer,
        authorizer,
        agent: op.agent,
        recipient: agent.recipient,
        royaltyOwner: model.owner,
        royaltyBps: model.bps,
        delay: config.withdrawDelay,
        deposit: op.amount,
        claimed: 0n,
        closed: false,
        withdrawableAt: 0n,
        maxSigned: 0n,
        maxAccepted: 0n,
        deposited: op.amount,
        paidOut: 0n,
        refunded: 0n,
      });
      credit(t.account(payer).address, -op.amount);
      credit(pc, op.amount);
    } else if (op.kind === "topUp") {
      const ch = pick(op.ch);
      if (!ch) continue;
      const from = op.byPayer ? ch.payer : "validator-1";
      const error = ch.closed ? "ChannelClosed" : undefined;
      await h.sendPredicted(from, call("topUp", [f.cfg(ch.id), op.amount]), error);
      seen.count(`topUp:${error ?? "ok"}`);
      if (error) continue;
      ch.deposit += op.amount;
      ch.deposited += op.amount;
      if (op.byPayer) ch.withdrawableAt = 0n;
      credit(t.account(from).address, -op.amount);
      credit(pc, op.amount);
    } else if (op.kind === "claim") {
      await claimStep(op.items, CALLERS[op.caller]!, channels, ledger);
    } else if (op.kind === "initiate") {
      const ch = pick(op.ch);
      if (!ch) continue;
      const from = op.byPayer ? ch.payer : "validator-1";
      const error = ch.closed
        ? "ChannelClosed"
        : !op.byPayer
          ? "NotPayer"
          : ch.withdrawableAt !== 0n
            ? "WithdrawAlreadyInitiated"
            : undefined;
      const receipt = await h.sendPredicted(from, call("initiateWithdraw", [f.cfg(ch.id)]), error);
      seen.count(`initiate:${error ?? "ok"}`);
      if (!error) ch.withdrawableAt = (await h.blockTime(receipt)) + ch.delay;
    } else if (op.kind === "finalize") {
      // Prefer channels with a pending withdrawal, so finalization succeeds often enough.
      const pendingWithdrawals = channels.filter((c) => c.withdrawableAt !== 0n && !c.closed && op.ch % 4 !== 0);
      const ch = pendingWithdrawals.length > 0 ? pendingWithdrawals[op.ch % pendingWithdrawals.length] : pick(op.ch);
      if (!ch) continue;
      if (op.wait) await t.increaseTime(ch.delay);
      const at = await h.pinNextTimestamp();
      const error = ch.closed
        ? "ChannelClosed"
        : ch.withdrawableAt === 0n
          ? "WithdrawNotInitiated"
          : at < ch.withdrawableAt
            ? "WithdrawNotReady"
            : undefined;
      await h.sendPredicted("validator-2", call("finalizeWithdraw", [f.cfg(ch.id)]), error);
      seen.count(`finalize:${error ?? "ok"}`);
      if (error) continue;
      const refund = ch.deposit - ch.claimed;
      ch.closed = true;
      ch.refunded += refund;
      credit(t.account(ch.payer).address, refund);
      credit(pc, -refund);
    } else if (op.kind === "withdrawEarnings") {
      const agent = agents[op.agent]!;
      const caller = CALLERS[op.caller]!;
      const owed = ledger.earnings[op.agent]!;
      const error = !caller.receives.includes(op.agent)
        ? "NotAgentReceiver"
        : owed === 0n
          ? "NothingToWithdraw"
          : undefined;
      await h.sendPredicted(caller.name, call("withdrawEarnings", [agent.id]), error);
      seen.count(`withdrawEarnings:${error ?? "ok"}`);
      if (error) continue;
      ledger.earnings[op.agent] = 0n;
      credit(agent.recipient, owed);
      credit(pc, -owed);
    } else if (op.kind === "collectFees") {
      const distinct = [...new Set(op.agents)];
      const owed = distinct.reduce((sum, a) => sum + ledger.fees[a]!, 0n);
      const error = owed === 0n ? "NothingToWithdraw" : undefined;
      await h.sendPredicted("validator-2", call("collectFees", [op.agents.map((a) => agents[a]!.id)]), error);
      seen.count(`collectFees:${error ?? "ok"}`);
      if (error) continue;
      for (const a of distinct) ledger.fees[a] = 0n;
      credit(f.addresses.treasury, owed);
      credit(pc, -owed);
    } else if (op.kind === "withdrawCredits") {
      const owner = t.account(CREDIT_OWNERS[op.owner]!).address;
      const target = CREDIT_TARGETS[op.to]!;
      const to = target === "self" ? owner : t.account(target).address;
      const owed = ledger.credits.get(owner) ?? 0n;
      const error = owed === 0n ? "NothingToWithdraw" : undefined;
      await h.sendPredicted(CREDIT_OWNERS[op.owner]!, call("withdrawCredits", [to]), error);
      seen.count(`withdrawCredits:${error ?? "ok"}`);
      if (error) continue;
      ledger.credits.set(owner, 0n);
      credit(to, owed);
      credit(pc, -owed);
    } else {
      await t.increaseTime(op.seconds);
    }
    await checkInvariants(channels, balances, ledger);
  }
}

/** What claims credited and nobody withdrew yet: per agent (by index) and per royalty owner. */
type Ledger = { earnings: bigint[]; fees: bigint[]; credits: Map<Address, bigint> };

function newLedger(): Ledger {
  return { earnings: agents.map(() => 0n), fees: agents.map(() => 0n), credits: new Map() };
}

/** Selector of each PaymentChannels custom error, as `ClaimSkipped` carries it. */
const SELECTORS = new Map<string, Hex>(
  paymentChannelsAbi
    .filter((item) => item.type === "error")
    .map((item) => [item.name, toFunctionSelector(formatAbiItem(item))]),
);

async function claimStep(
  items: ClaimItem[],
  caller: (typeof CALLERS)[number],
  channels: ModelChannel[],
  ledger: Ledger,
): Promise<void> {
  const claims: Claim[] = [];
  const pending = new Map<Hex, { claimed: bigint; deposit: bigint }>();
  /** The rules applied to each claim on its own: it pays an increase, or is skipped with an error. */
  const verdicts: (
    | { paid: { ch: ModelChannel; increase: bigint; claim: Claim } }
    | { channelId: Hex; skip: string }
  )[] = [];
  let foreign = false; // a live channel of an agent the caller does not receive for
  for (const item of items) {
    const ch = channels.length === 0 || item.voucher === "unknown" ? undefined : channels[item.ch % channels.length];
    if (!ch) {
      // Terms nobody opened: a live channel's with another salt (voucher signed by its authorizer
      // for the id they hash to), or made up. Their id has no state.
      const real = channels.length === 0 ? undefined : channels[item.ch % channels.length];
      const salt = keccak256(toHex(`unknown-${item.delta}`));
      const config = real ? { ...f.cfg(real.id), salt } : f.cfg(salt);
      const channelId = configId(config);
      f.remember(config);
      const signer = real?.authorizer ?? "client-1";
      claims.push(await f.voucherClaim({ channelId, cumulativeAmount: item.delta, signer }));
      verdicts.push({ channelId, skip: "ChannelNotFound" });
      continue;
    }
    const state = pending.get(ch.id) ?? { claimed: ch.claimed, deposit: ch.deposit };
    const base = { channelId: ch.id, signer: ch.authorizer };
    let claim: Claim;
    let validSignature = true;
    if (item.voucher === "replay" && ch.lastClaim) claim = ch.lastClaim;
    else if (item.voucher === "raise" && ch.lastClaim) {
      const room = ch.lastClaim.cumulativeAmount - state.claimed; // above the cap when not positive
      const amount = state.claimed + maxOf(1n, (room * BigInt(item.percent)) / 100n);
      claim = { ...ch.lastClaim, amount };
    } else if (item.voucher === "stale" || item.voucher === "replay")
      claim = await f.voucherClaim({ ...base, cumulativeAmount: state.claimed });
    else {
      // The cap is what was charged so far plus the request's ceiling (`delta`); the provider
      // charged `percent` of the ceiling (at least 1), or more than the cap for `aboveCap`.
      const cumulativeAmount = state.claimed + item.delta;
      const charged = maxOf(1n, (item.delta * BigInt(item.percent)) / 100n);
      const amount = item.voucher === "aboveCap" ? cumulativeAmount + charged : state.claimed + charged;
      validSignature = item.voucher === "valid" || item.voucher === "raise" || item.voucher === "aboveCap";
      const domain =
        item.voucher === "wrongChain"
          ? { chainId: t.chain.id + 1 }
          : item.voucher === "wrongContract"
            ? { verifyingContract: f.addresses.staking }
            : {};
      const signer = item.voucher === "forged" ? "validator-4" : ch.authorizer;
      claim = await f.voucherClaim({ ...base, ...domain, signer, cumulativeAmount, amount });
    }
    if (validSignature) ch.maxSigned = maxOf(ch.maxSigned, claim.cumulativeAmount);
    claims.push(claim);
    const skip = (error: string) => verdicts.push({ channelId: ch.id, skip: error });
    if (ch.closed) skip("ChannelClosed");
    else if (!caller.receives.includes(ch.agent)) foreign = true;
    else if (claim.amount > claim.cumulativeAmount) skip("ClaimAboveVoucher");
    else if (claim.amount <= state.claimed) skip("VoucherNotIncreasing");
    else if (!validSignature) skip("VoucherSignatureInvalid");
    else {
      const settled = minOf(claim.amount, state.deposit);
      if (settled <= state.claimed) skip("NothingToClaim");
      else {
        verdicts.push({ paid: { ch, increase: settled - state.claimed, claim } });
        pending.set(ch.id, { ...state, claimed: settled });
      }
    }
  }
  const paid = verdicts.flatMap((v) => ("paid" in v ? [v.paid] : []));
  const skipped = verdicts.flatMap((v) => ("skip" in v ? [v] : []));
  // A stranger never moves money; a batch that pays nothing reverts with its first claim's error.
  const error =
    claims.length === 0 ? "NoClaims" : foreign ? "NotReceiver" : paid.length === 0 ? skipped[0]?.skip : undefined;
  const call = callsTo(f.addresses.paymentChannels, paymentChannelsAbi);
  const receipt = await h.sendPredicted(caller.name, call("claim", [claims]), error);
  seen.count(`claim:${error ?? (skipped.length > 0 ? "partial" : "ok")}`);
  if (error) return;
  const events = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "Claimed" });
  assert.equal(events.length, paid.length, "one Claimed per valid claim");
  const skips = parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: "ClaimSkipped" });
  assert.deepEqual(
    skips.map((e) => [e.args.channelId, e.args.reason]),
    skipped.map((v) => [v.channelId, SELECTORS.get(v.skip)]),
    "one ClaimSkipped, with the predicted error, per bad claim",
  );
  for (const [i, { ch, increase, claim }] of paid.entries()) {
    const e = events[i]!.args;
    const fee = (increase * 100n) / 10_000n;
    const royalty = (increase * ch.royaltyBps) / 10_000n;
    const settled = ch.claimed + increase;
    assert.equal(e.channelId, ch.id);
    assert.deepEqual([e.cumulativeAmount, e.voucherAmount, e.increase], [settled, claim.cumulativeAmount, increase]);
    assert.equal(e.providerAmount + e.royaltyAmount + e.feeAmount, e.increase, "split must be exact");
    assert.deepEqual([e.feeAmount, e.royaltyAmount], [fee, royalty]);
    assert.ok(claim.amount <= claim.cumulativeAmount && settled <= claim.cumulativeAmount, "paid above the voucher");
    ch.claimed = settled;
    ch.paidOut += increase;
    ch.maxAccepted = maxOf(ch.maxAccepted, minOf(claim.amount, ch.deposit));
    ch.lastClaim = claim;
    // Credited, not paid: no token moves until a payout.
    ledger.earnings[ch.agent]! += increase - fee - royalty;
    ledger.fees[ch.agent]! += fee;
    ledger.credits.set(ch.royaltyOwner, (ledger.credits.get(ch.royaltyOwner) ?? 0n) + royalty);
  }
}

function maxOf(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function minOf(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

async function checkInvariants(
  channels: ModelChannel[],
  expected: Map<Address, bigint>,
  ledger: Ledger,
): Promise<void> {
  const pc = f.as("client-1").channels;
  const [actual, states, accounts, credits] = await Promise.all([
    h.balancesOf(watched),
    Promise.all(channels.map((ch) => pc.read.getChannel([f.cfg(ch.id)]))),
    Promise.all(agents.map((a) => f.earningsOf(a.id))),
    Promise.all(models.map((m) => f.creditOf(m.owner))),
  ]);
  assert.deepEqual(
    accounts,
    agents.map((_, i) => ({ earnings: ledger.earnings[i], fees: ledger.fees[i] })),
    "credited earnings and fees match the model",
  );
  assert.deepEqual(
    credits,
    models.map((m) => ledger.credits.get(m.owner) ?? 0n),
    "credited royalties match the model",
  );
  let escrow = 0n;
  let flows = 0n; // Σ deposits − Σ claimed − Σ refunded, from the model's own bookkeeping
  for (const [i, ch] of channels.entries()) {
    const s = states[i]!;
    assert.deepEqual(
      [s.deposit, s.claimed, s.closed, s.withdrawableAt],
      [ch.deposit, ch.claimed, ch.closed, ch.withdrawableAt],
      `channel ${ch.id}`,
    );
    assert.ok(s.claimed <= ch.maxSigned, "paid more than the highest signed cap");
    assert.equal(s.claimed, ch.maxAccepted, "claimed == highest accepted claim amount capped by the deposit");
    assert.ok(s.claimed <= s.deposit, "paid more than the deposit");
    assert.equal(ch.paidOut, s.claimed, "paid out == claimed");
    const held = s.closed ? 0n : s.deposit - s.claimed;
    assert.equal(ch.deposited - ch.paidOut - ch.refunded, held, "per channel: deposited − paid − refunded == escrow");
    escrow += held;
    flows += ch.deposited - ch.paidOut - ch.refunded;
  }
  const owed =
    ledger.earnings.reduce((a, b) => a + b, 0n) +
    ledger.fees.reduce((a, b) => a + b, 0n) +
    [...ledger.credits.values()].reduce((a, b) => a + b, 0n);
  const balance = actual.get(f.addresses.paymentChannels);
  assert.equal(balance, escrow + owed, "token balance == open escrow + credits not withdrawn");
  assert.equal(balance, flows + owed, "token balance == Σ deposits − Σ claimed − Σ refunded + credits not withdrawn");
  assert.deepEqual(actual, expected, "every balance matches the model");
}

modelTest("PaymentChannels: escrow, payouts and failed claims match the model", sequenceArb, runSequence, seen);
