/**
 * Model-based property test of Staking: random sequences of stake / requestUnbond / withdraw /
 * slash and pauseOffers (sent as the impersonated Disputes contract) / unpauseOffers / addOffer /
 * removeOffer / open-challenge toggles / time advance, checked against a JS model written from the
 * rules. Unbonding entries mature `unbondingDelay` after the block that requested them (the model
 * keeps the request time, not the contract's `availableAt`). After every step: the token balance of
 * Staking == totalStaked == sum of bonded + unbonding stake == Σ staked − Σ withdrawn − Σ slashed;
 * every agent's stake, unbonding entries, offers and pause flag match the model; every balance
 * matches (failed calls move nothing). A withdrawal pays out only with no challenge open against
 * the agent and only entries whose delay has passed, and offers resume only with bonded stake
 * covering every listed offer.
 */
import assert from "node:assert/strict";
import { after, before } from "node:test";
import fc from "fast-check";
import type { Address } from "viem";
import { createTestChain, type TestChain } from "../../packages/chain/src/testing.ts";
import { stakingAbi } from "../generated/index.ts";
import { deployFixture, type Fixture, rewinder } from "./fixture.ts";
import { callsTo, type Harness, harness, modelTest, outcomes } from "./invariant-harness.ts";

const MIN_STAKE = 1_000_000n;
const DAY = 86_400;
const UNBONDING = 4n * BigInt(DAY);
const MAX_PENDING = 16;

type Op =
  | { kind: "stake"; agent: number; from: number; amount: bigint }
  | { kind: "unbond"; agent: number; percent: number; excess: boolean }
  | { kind: "withdraw"; agent: number; wait: boolean }
  | { kind: "slash"; agent: number; percent: number; weights: number[]; pause: boolean; underOffers: boolean }
  | { kind: "unpause"; agent: number }
  | { kind: "addOffer"; agent: number }
  | { kind: "removeOffer"; agent: number; index: number }
  | { kind: "challenges"; agent: number; open: boolean }
  | { kind: "time"; seconds: number };

const agentArb = fc.nat(1);
const stakeArb = fc.record({
  kind: fc.constant("stake" as const),
  agent: agentArb,
  from: fc.nat(2),
  amount: fc.bigInt({ min: 1n, max: 3n * MIN_STAKE }),
});
const rarely = (arb: fc.Arbitrary<boolean>) =>
  fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, { arbitrary: arb, weight: 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: stakeArb, weight: 3 },
  {
    arbitrary: fc.record({
      kind: fc.constant("unbond" as const),
      agent: agentArb,
      percent: fc.nat(100),
      excess: rarely(fc.constant(true)),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("withdraw" as const),
      agent: agentArb,
      wait: fc.oneof(fc.constant(true), fc.boolean()),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("slash" as const),
      agent: agentArb,
      percent: fc.oneof({ arbitrary: fc.nat(30), weight: 4 }, { arbitrary: fc.nat(120), weight: 1 }),
      weights: fc.array(fc.nat(10), { minLength: 1, maxLength: 3 }),
      pause: fc.oneof({ arbitrary: fc.constant(true), weight: 3 }, { arbitrary: fc.constant(false), weight: 1 }),
      // Sometimes exactly enough to leave the bonded stake one unit short of the offers' requirement.
      underOffers: fc.boolean(),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ kind: fc.constant("unpause" as const), agent: agentArb }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("addOffer" as const), agent: agentArb }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant("removeOffer" as const), agent: agentArb, index: fc.nat() }), weight: 2 },
  {
    arbitrary: fc.record({ kind: fc.constant("challenges" as const), agent: agentArb, open: fc.boolean() }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ kind: fc.constant("time" as const), seconds: fc.constantFrom(DAY, 2 * DAY, 4 * DAY + 1) }),
    weight: 1,
  },
);
/** Sequences start by staking so most steps have stake to act on. */
const sequenceArb = fc
  .tuple(fc.array(stakeArb, { minLength: 1, maxLength: 3 }), fc.array(opArb, { minLength: 1, maxLength: 30 }))
  .map(([stakes, rest]): Op[] => [...stakes, ...rest]);

/** An unbonding entry: its amount and the time of the block that requested it. */
type Entry = { amount: bigint; requestedAt: bigint };
type AgentModel = {
  id: bigint;
  owner: string;
  bonded: bigint;
  entries: Entry[];
  offers: bigint[];
  challenges: bigint;
  paused: boolean;
};
/** Token flows in and out of Staking since the sequence started. */
type Ledger = { staked: bigint; withdrawn: bigint; slashed: bigint };
const matured = (e: Entry, now: bigint) => e.requestedAt + UNBONDING <= now;

let t: TestChain;
let f: Fixture;
let h: Harness;
let reset: () => Promise<void>;
let modelId: bigint;
const OWNERS = ["provider-1", "provider-2"];
const STAKERS = ["provider-1", "provider-2", "client-1"];
const RECIPIENTS = ["validator-1", "validator-2", "validator-3"];
const agentIds: bigint[] = [];
let watched: Address[];
const seen = outcomes();

before(async () => {
  t = await createTestChain();
  f = await deployFixture(t, { minStakePerOffer: MIN_STAKE, unbondingDelay: UNBONDING });
  h = harness(t, f);
  for (const owner of OWNERS) agentIds.push(await f.registerAgent(owner));
  modelId = await f.registerModel("modelOwner", 0);
  await f.fund(STAKERS, 10n ** 12n, f.addresses.staking);
  watched = [...STAKERS, ...RECIPIENTS].map((n) => t.account(n).address).concat(f.addresses.staking);
  reset = rewinder(t);
});
after(() => t.close());

async function runSequence(ops: Op[]): Promise<void> {
  await reset();
  const agents: AgentModel[] = agentIds.map((id, i) => ({
    id,
    owner: OWNERS[i]!,
    bonded: 0n,
    entries: [],
    offers: [],
    challenges: 0n,
    paused: false,
  }));
  const ledger: Ledger = { staked: 0n, withdrawn: 0n, slashed: 0n };
  const { balances, credit } = await h.expectedBalances(watched);
  const staking = f.addresses.staking;
  const call = callsTo(staking, stakingAbi);
  const disputes = await f.disputesWallet();

  for (const op of ops) {
    // Withdrawals go to an agent with unbonding entries, unpausing to a paused agent and slashes
    // meant to uncover offers to an agent with offers when there is one, so they often apply.
    const chosen = agents[op.kind === "time" ? 0 : op.agent]!;
    const a =
      op.kind === "withdraw" && chosen.entries.length === 0
        ? (agents.find((x) => x.entries.length > 0) ?? chosen)
        : op.kind === "unpause" && !chosen.paused
          ? (agents.find((x) => x.paused) ?? chosen)
          : op.kind === "slash" && op.underOffers && chosen.offers.length === 0
            ? (agents.find((x) => x.offers.length > 0) ?? chosen)
            : chosen;
    const unbonding = () => a.entries.reduce((sum, e) => sum + e.amount, 0n);
    const required = BigInt(a.offers.length) * MIN_STAKE;
    let error: string | undefined;
    if (op.kind === "stake") {
      const from = STAKERS[op.from]!;
      await h.sendPredicted(from, call("stake", [a.id, op.amount]), undefined);
      a.bonded += op.amount;
      ledger.staked += op.amount;
      credit(t.account(from).address, -op.amount);
      credit(staking, op.amount);
    } else if (op.kind === "unbond") {
      const amount = op.excess ? a.bonded - required + 1n : (a.bonded * BigInt(op.percent)) / 100n;
      if (amount <= 0n) error = "ZeroAmount";
      else if (amount > a.bonded || a.bonded - amount < required) error = "InsufficientStake";
      else if (a.entries.length >= MAX_PENDING) error = "TooManyUnbondings";
      const receipt = await h.sendPredicted(a.owner, call("requestUnbond", [a.id, amount < 0n ? 0n : amount]), error);
      if (!error) {
        a.bonded -= amount;
        a.entries.push({ amount, requestedAt: await h.blockTime(receipt) });
      }
    } else if (op.kind === "withdraw") {
      if (op.wait) await t.increaseTime(UNBONDING);
      const now = await h.pinNextTimestamp();
      const ready = a.entries.filter((e) => matured(e, now));
      if (a.challenges !== 0n) error = "OpenChallenges";
      else if (ready.length === 0) error = "UnbondingNotReady";
      const to = t.account(a.owner).address;
      const held = await f.balanceOf(staking);
      const receipt = await h.sendPredicted(a.owner, call("withdraw", [a.id, to]), error);
      const paidOut = held - (await f.balanceOf(staking));
      if (error) assert.equal(paidOut, 0n, "no stake leaves Staking on a refused withdrawal");
      else {
        // Entries mature in order (one delay for all), so the matured ones are the oldest.
        const amount = ready.reduce((sum, e) => sum + e.amount, 0n);
        assert.equal(a.challenges, 0n, "stake left Staking while a challenge is open");
        assert.ok(ready.every((e) => e.requestedAt + UNBONDING <= now) && now === (await h.blockTime(receipt)));
        assert.equal(paidOut, amount, "a withdrawal pays exactly the matured entries");
        a.entries = a.entries.slice(ready.length);
        ledger.withdrawn += amount;
        credit(to, amount);
        credit(staking, -amount);
      }
    } else if (op.kind === "slash") {
      const total = a.bonded + unbonding();
      const short = a.bonded >= required ? a.bonded - required + 1n : 1n;
      const amount = op.underOffers && required > 0n ? short : (total * BigInt(op.percent)) / 100n;
      const recipients = op.weights.map((_, i) => t.account(RECIPIENTS[i]!).address);
      const weightSum = BigInt(op.weights.reduce((s, w) => s + w, 0)) || 1n;
      const amounts = op.weights.map((w) => (amount * BigInt(w)) / weightSum);
      amounts[amounts.length - 1]! += amount - amounts.reduce((s, v) => s + v, 0n);
      if (amount > total) error = "InsufficientStake";
      await h.sendPredicted(disputes, call("slash", [a.id, amount, recipients, amounts]), error);
      if (!error) {
        const fromBonded = amount < a.bonded ? amount : a.bonded;
        a.bonded -= fromBonded;
        let left = amount - fromBonded;
        for (let i = a.entries.length - 1; left > 0n; i--) {
          const e = a.entries[i]!;
          const take = e.amount < left ? e.amount : left;
          e.amount -= take;
          left -= take;
        }
        for (const [i, r] of recipients.entries()) credit(r, amounts[i]!);
        credit(staking, -amount);
        ledger.slashed += amount;
        // Disputes pauses the agent's offers right after slashing it.
        if (op.pause) {
          await h.sendPredicted(disputes, call("pauseOffers", [a.id]), undefined);
          a.paused = true;
        }
      }
    } else if (op.kind === "unpause") {
      if (!a.paused) error = "OffersNotPaused";
      else if (a.challenges !== 0n) error = "OpenChallenges";
      else if (a.bonded < required) error = "InsufficientStake";
      await h.sendPredicted(a.owner, call("unpauseOffers", [a.id]), error);
      if (!error) {
        a.paused = false;
        const [bonded] = await f.as("client-1").staking.read.stakeOf([a.id]);
        const offers = await f.as("client-1").staking.read.offersOf([a.id]);
        assert.ok(bonded >= BigInt(offers.length) * MIN_STAKE, "offers resumed without their stake");
      }
    } else if (op.kind === "addOffer") {
      if (a.paused) error = "OffersArePaused";
      else if (a.bonded < required + MIN_STAKE) error = "InsufficientStake";
      const args = [a.id, modelId, 10n, 40n, 1024, "https://offer.example"];
      const receipt = await h.sendPredicted(a.owner, call("addOffer", args), error);
      if (!error) a.offers.push(BigInt(receipt.logs[0]!.topics[1]!));
    } else if (op.kind === "removeOffer") {
      if (a.offers.length === 0) continue;
      const offerId = a.offers[op.index % a.offers.length]!;
      await h.sendPredicted(a.owner, call("removeOffer", [offerId]), undefined);
      a.offers = a.offers.filter((o) => o !== offerId);
    } else if (op.kind === "challenges") {
      a.challenges = op.open ? 1n : 0n;
      await f.setOpenChallenges(a.id, a.challenges);
    } else {
      await t.increaseTime(op.seconds);
    }
    seen.count(`${op.kind}:${error ?? "ok"}`);
    await checkInvariants(agents, ledger, balances);
  }
}

async function checkInvariants(agents: AgentModel[], ledger: Ledger, expected: Map<Address, bigint>): Promise<void> {
  const s = f.as("client-1").staking;
  const [actual, total, states] = await Promise.all([
    h.balancesOf(watched),
    s.read.totalStaked(),
    Promise.all(
      agents.map((a) =>
        Promise.all([
          s.read.stakeOf([a.id]),
          s.read.unbondingsOf([a.id]),
          s.read.offersOf([a.id]),
          s.read.offersPaused([a.id]),
        ]),
      ),
    ),
  ]);
  let sum = 0n;
  for (const [i, a] of agents.entries()) {
    const [[bonded, unbonding], entries, offers, paused] = states[i]!;
    const pending = a.entries.reduce((acc, e) => acc + e.amount, 0n);
    assert.deepEqual([bonded, unbonding], [a.bonded, pending], `stake of agent ${a.id}`);
    assert.deepEqual(
      entries.map((e) => [e.amount, e.availableAt]),
      a.entries.map((e) => [e.amount, e.requestedAt + UNBONDING]),
    );
    assert.deepEqual([...offers].sort(), [...a.offers].sort());
    assert.equal(paused, a.paused, `pause flag of agent ${a.id}`);
    sum += bonded + unbonding;
  }
  assert.equal(total, sum, "totalStaked == sum of stakes");
  assert.equal(actual.get(f.addresses.staking), sum, "token balance of Staking == sum of stakes");
  assert.equal(sum, ledger.staked - ledger.withdrawn - ledger.slashed, "stakes == Σ staked − Σ withdrawn − Σ slashed");
  assert.deepEqual(actual, expected, "every balance matches the model");
}

modelTest("Staking: balances, stakes, unbonding entries and offers match the model", sequenceArb, runSequence, seen);
