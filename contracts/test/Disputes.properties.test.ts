/**
 * Model-based property test of the dispute flow: random sequences of challenges (fresh, expired or
 * duplicated receipts against two staked providers), commits, reveals (some with a wrong vote),
 * resolves, stakes and time jumps, checked after every step against a JS model of bonds, stakes,
 * votes and verdicts. Properties: every call succeeds exactly when the model says so and a failed
 * call moves no tokens; nothing is slashed except by a guilty verdict, and only the accused agent;
 * Disputes holds exactly the validator bonds plus the open challenge bonds; Staking holds exactly
 * totalStaked, which equals the modelled stakes.
 */
import assert from "node:assert/strict";
import { after, before } from "node:test";
import fc from "fast-check";
import { type Address, type Hex, parseEventLogs, type TransactionReceipt } from "viem";
import { createTestChain, type TestChain } from "../../packages/chain/src/testing.ts";
import { disputesAbi, stakingAbi } from "../generated/index.ts";
import { type DisputeScene, disputeScene, type Receipt, signReceipt, VALIDATORS } from "./disputes-helpers.ts";
import { deployFixture, type Fixture, rewinder } from "./fixture.ts";
import { callsTo, type Harness, harness, modelTest, outcomes } from "./invariant-harness.ts";

const STAKE = 150_000_000n;
const DAY = 86_400;

type Op =
  | { kind: "challenge"; agent: number; from: number; charge: bigint; age: "fresh" | "expired" | "duplicate" }
  | { kind: "commit"; dispute: number; member: number; guilty: boolean }
  | { kind: "reveal"; dispute: number; member: number; lie: boolean }
  | { kind: "resolve"; dispute: number }
  | { kind: "stake"; agent: number; amount: bigint }
  | { kind: "time"; seconds: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant("challenge" as const),
      agent: fc.nat(1),
      from: fc.nat(1),
      charge: fc.oneof(fc.bigInt({ min: 0n, max: 5_000_000n }), fc.bigInt({ min: 0n, max: 3n * STAKE })),
      age: fc.oneof(
        { arbitrary: fc.constant("fresh" as const), weight: 6 },
        { arbitrary: fc.constantFrom("expired" as const, "duplicate" as const), weight: 1 },
      ),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("commit" as const),
      dispute: fc.nat(3),
      member: fc.nat(2),
      guilty: fc.oneof(fc.constant(true), fc.boolean()),
    }),
    weight: 6,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("reveal" as const),
      dispute: fc.nat(3),
      member: fc.nat(2),
      lie: fc.oneof({ arbitrary: fc.constant(false), weight: 6 }, { arbitrary: fc.constant(true), weight: 1 }),
    }),
    weight: 5,
  },
  { arbitrary: fc.record({ kind: fc.constant("resolve" as const), dispute: fc.nat(3) }), weight: 3 },
  {
    arbitrary: fc.record({
      kind: fc.constant("stake" as const),
      agent: fc.nat(1),
      amount: fc.bigInt({ min: 1n, max: STAKE }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ kind: fc.constant("time" as const), seconds: fc.constantFrom(3_600, DAY / 2, DAY + 1) }),
    weight: 4,
  },
);
/** A whole round on the latest dispute: every member commits, some reveal, then it is resolved. */
const roundArb: fc.Arbitrary<Op[]> = fc
  .tuple(
    fc.array(fc.oneof(fc.constant(true), fc.boolean()), { minLength: 3, maxLength: 3 }),
    fc.array(fc.oneof(fc.constant(true), fc.boolean()), { minLength: 3, maxLength: 3 }),
  )
  .map(([votes, reveals]) => [
    ...votes.map((guilty, member): Op => ({ kind: "commit", dispute: 0, member, guilty })),
    { kind: "time", seconds: DAY + 1 },
    ...reveals.flatMap((r, member): Op[] => (r ? [{ kind: "reveal", dispute: 0, member, lie: false }] : [])),
    { kind: "time", seconds: DAY + 1 },
    { kind: "resolve", dispute: 0 },
  ]);
const sequenceArb = fc
  .array(fc.oneof({ arbitrary: opArb.map((op) => [op]), weight: 3 }, { arbitrary: roundArb, weight: 1 }), {
    minLength: 1,
    maxLength: 12,
    size: "max",
  })
  .map((chunks) => chunks.flat());

type Member = { name: string; vote?: boolean; revealed: boolean };
type DisputeModel = {
  id: bigint;
  agent: number;
  challenger: string;
  payer: string;
  charge: bigint;
  openedAt: bigint;
  drawn: boolean;
  open: boolean;
  members: Member[];
};

let t: TestChain;
let f: Fixture;
let h: Harness;
let s: DisputeScene;
let reset: () => Promise<void>;
const agents: { id: bigint; signer: string; payer: string; channelId: Hex; modelId: bigint }[] = [];
const CHALLENGERS = ["client-2", "client-3"];
let watched: Address[];
/** Refunds held in Disputes by guilty verdicts of the current sequence. */
let heldRefunds = 0n;
const seen = outcomes();

before(async () => {
  t = await createTestChain();
  f = await deployFixture(t);
  h = harness(t, f);
  s = await disputeScene(t, f, STAKE);
  agents.push({ id: s.agentId, signer: "provider-1", payer: "client-1", channelId: s.channelId, modelId: s.modelId });
  const second = await f.registerAgent("provider-3");
  await f.fund(["provider-3", "provider-1"], 10n ** 12n, f.addresses.staking);
  await f.mined(f.as("provider-3").staking.write.stake([second, STAKE]));
  const { channelId } = await f.openChannel("client-4", f.channelConfig("client-4", second, s.modelId), 1_000_000n);
  agents.push({ id: second, signer: "provider-3", payer: "client-4", channelId, modelId: s.modelId });
  watched = [...CHALLENGERS, "client-1", "client-4", "provider-1", "provider-3", "treasury", ...VALIDATORS]
    .map((n) => t.account(n).address)
    .concat(f.addresses.disputes, f.addresses.staking);
  reset = rewinder(t);
});
after(() => t.close());

/** Sends `call`; returns the mined receipt whether it succeeded or reverted. */
async function send(from: string, call: ReturnType<ReturnType<typeof callsTo>>): Promise<TransactionReceipt> {
  try {
    const hash = await f.wallet(from).writeContract({ ...call, gas: 5_000_000n } as never);
    return await f.publicClient.waitForTransactionReceipt({ hash });
  } catch {
    const block = await f.publicClient.getBlock({ includeTransactions: true });
    const tx = block.transactions.at(-1);
    if (!tx) throw new Error("no transaction mined");
    return f.publicClient.getTransactionReceipt({ hash: tx.hash });
  }
}

async function runSequence(ops: Op[]): Promise<void> {
  await reset();
  const { p } = s;
  const call = callsTo(f.addresses.disputes, disputesAbi);
  const stakes = agents.map(() => STAKE);
  const bonds = new Map<string, bigint>(VALIDATORS.map((v) => [v, p.validatorBond]));
  const disputes: DisputeModel[] = [];
  const challenged: Receipt[] = [];
  const { balances, credit } = await h.expectedBalances(watched);
  heldRefunds = 0n;
  const addr = (n: string) => t.account(n).address;
  const nameOf = new Map(VALIDATORS.map((v) => [addr(v).toLowerCase(), v]));

  for (const op of ops) {
    if (op.kind === "time") {
      await t.increaseTime(op.seconds);
      continue;
    }
    const now = await h.pinNextTimestamp();
    let receipt: TransactionReceipt;
    let expectOk: boolean;
    let key: string = op.kind;
    if (op.kind === "challenge") {
      const a = agents[op.agent]!;
      const from = CHALLENGERS[op.from]!;
      let r: Receipt;
      if (op.age === "duplicate" && challenged.length > 0) r = challenged[op.agent % challenged.length]!;
      else r = await s.receipt({ channelId: a.channelId, modelId: a.modelId, charge: op.charge });
      if (op.age === "expired") r = { ...r, timestamp: now - f.params.auditWindow - 1n };
      const duplicate = challenged.some((c) => c.requestId === r.requestId);
      const eligible = [...bonds.values()].filter((b) => b >= p.validatorBond).length;
      const signer = agents.find((x) => x.channelId === r.channelId)!.signer;
      const sig = await signReceipt(t, f, r, signer);
      expectOk = !duplicate && op.age !== "expired";
      receipt = await send(from, call("challenge", [r, f.cfg(r.channelId), sig, r.requestId, ""]));
      if (expectOk && receipt.status === "success") {
        const [opened] = parseEventLogs({ abi: disputesAbi, logs: receipt.logs, eventName: "ChallengeOpened" });
        const id = opened!.args.disputeId;
        // The committee is drawn from the next block's hash, in a transaction of its own.
        await t.testClient.mine({ blocks: 1 });
        const drawAt = await h.pinNextTimestamp();
        const draw = await send(from, call("drawCommittee", [id]));
        assert.equal(draw.status === "success", eligible >= p.committeeSize, "draw outcome");
        const [drawn] = parseEventLogs({ abi: disputesAbi, logs: draw.logs, eventName: "CommitteeDrawn" });
        const members = (drawn?.args.members ?? []).map((m) => ({
          name: nameOf.get(m.toLowerCase())!,
          revealed: false,
        }));
        for (const m of members) assert.equal(bonds.get(m.name)! >= p.validatorBond, true, "drawn with a short bond");
        const agent = agents.findIndex((x) => x.channelId === r.channelId);
        disputes.push({
          id,
          agent,
          challenger: from,
          payer: agents[agent]!.payer,
          charge: r.charge,
          openedAt: drawAt,
          drawn: drawn !== undefined,
          open: true,
          members,
        });
        challenged.push(r);
        credit(addr(from), -p.challengeBond);
        credit(f.addresses.disputes, p.challengeBond);
      }
      key = `challenge:${op.age}`;
    } else if (op.kind === "commit" || op.kind === "reveal") {
      const d = disputes[disputes.length - 1 - (op.dispute % Math.max(disputes.length, 1))];
      if (!d?.drawn) continue;
      const m = d.members[op.member % d.members.length]!;
      const commitEnd = d.openedAt + p.commitWindow;
      if (op.kind === "commit") {
        expectOk = d.open && now <= commitEnd && m.vote === undefined;
        const commitment = await f
          .as(m.name)
          .disputes.read.commitmentOf([d.id, op.guilty, s.salt(m.name), addr(m.name)]);
        receipt = await send(m.name, call("commitVote", [d.id, commitment]));
        if (expectOk) m.vote = op.guilty;
      } else {
        const inWindow = now > commitEnd && now <= commitEnd + p.revealWindow;
        expectOk = d.open && inWindow && m.vote !== undefined && !m.revealed && !op.lie;
        receipt = await send(m.name, call("revealVote", [d.id, op.lie ? !m.vote : (m.vote ?? false), s.salt(m.name)]));
        if (expectOk) m.revealed = true;
      }
    } else if (op.kind === "resolve") {
      const d = disputes[disputes.length - 1 - (op.dispute % Math.max(disputes.length, 1))];
      if (!d) continue;
      expectOk = d.open && d.drawn && now > d.openedAt + p.commitWindow + p.revealWindow;
      receipt = await send("client-5", call("resolve", [d.id]));
      if (expectOk) {
        d.open = false;
        const revealed = d.members.filter((m) => m.revealed);
        const g = revealed.filter((m) => m.vote).length;
        const guilty = g > revealed.length - g;
        const decisive = g * 2 !== revealed.length;
        let pool = 0n;
        const winners = d.members.filter((m) => m.revealed && (!decisive || m.vote === guilty));
        for (const m of d.members) {
          if (winners.includes(m)) continue;
          const pen = bonds.get(m.name)! < p.voterPenalty ? bonds.get(m.name)! : p.voterPenalty;
          bonds.set(m.name, bonds.get(m.name)! - pen);
          pool += pen;
        }
        if (winners.length === 0) {
          credit(f.addresses.disputes, -pool);
          credit(addr("treasury"), pool);
        } else {
          const share = pool / BigInt(winners.length);
          for (const [i, m] of winners.entries()) {
            const dust = i === 0 ? pool - share * BigInt(winners.length) : 0n;
            bonds.set(m.name, bonds.get(m.name)! + share + dust);
          }
        }
        credit(f.addresses.disputes, -p.challengeBond);
        if (guilty) {
          const target = p.slashAmount > d.charge ? p.slashAmount : d.charge;
          const slashed = stakes[d.agent]! < target ? stakes[d.agent]! : target;
          // No claims in this model: the channel has paid nothing, so the charge owed back is held
          // in Disputes until it does (refunds.properties.test.ts models claims and refunds).
          const held = slashed < d.charge ? slashed : d.charge;
          const reward = ((slashed - held) * p.rewardBps) / 10_000n;
          stakes[d.agent]! -= slashed;
          heldRefunds += held;
          credit(f.addresses.staking, -slashed);
          credit(f.addresses.disputes, held);
          credit(addr(d.challenger), reward + p.challengeBond);
          credit(addr("treasury"), slashed - held - reward);
        } else {
          credit(addr(agents[d.agent]!.signer), p.challengeBond);
        }
        const [resolved] = parseEventLogs({ abi: disputesAbi, logs: receipt.logs, eventName: "DisputeResolved" });
        assert.equal(resolved?.args.guilty, guilty, "verdict differs from the revealed votes");
        key = `resolve:${guilty ? "guilty" : "notGuilty"}`;
      }
    } else if (op.kind === "stake") {
      const a = agents[op.agent]!;
      expectOk = true;
      receipt = await send(a.signer, callsTo(f.addresses.staking, stakingAbi)("stake", [a.id, op.amount]));
      stakes[op.agent]! += op.amount;
      credit(addr(a.signer), -op.amount);
      credit(f.addresses.staking, op.amount);
    } else {
      continue;
    }
    assert.equal(receipt.status === "success", expectOk, `${op.kind} ${expectOk ? "reverted" : "succeeded"}`);
    seen.count(`${key}:${receipt.status === "success" ? "ok" : "revert"}`);

    // Nothing is slashed outside a guilty verdict, and only the accused agent.
    const slashes = parseEventLogs({ abi: stakingAbi, logs: receipt.logs, eventName: "Slashed" });
    if (slashes.length > 0) {
      assert.equal(key, "resolve:guilty", "slashed outside a guilty verdict");
      const d = disputes[disputes.length - 1 - ((op as { dispute: number }).dispute % disputes.length)]!;
      for (const e of slashes)
        assert.equal(e.args.agentId, agents[d.agent]!.id, "slashed an agent other than the accused");
    }
    await checkInvariants(stakes, bonds, disputes, balances);
  }
}

async function checkInvariants(
  stakes: bigint[],
  bonds: Map<string, bigint>,
  disputes: DisputeModel[],
  balances: Map<Address, bigint>,
): Promise<void> {
  const d = f.as("client-5").disputes;
  const st = f.as("client-5").staking;
  const actual = await h.balancesOf([...balances.keys()]);
  for (const [account, expected] of balances) assert.equal(actual.get(account), expected, `balance of ${account}`);
  const open = disputes.filter((x) => x.open);
  const held = [...bonds.values()].reduce((a, b) => a + b, 0n) + BigInt(open.length) * s.p.challengeBond + heldRefunds;
  assert.equal(actual.get(f.addresses.disputes), held, "Disputes holds exactly the bonds and held refunds");
  const total = await st.read.totalStaked();
  assert.equal(actual.get(f.addresses.staking), total, "Staking holds totalStaked");
  assert.equal(
    total,
    stakes.reduce((a, b) => a + b, 0n),
  );
  for (const [i, a] of agents.entries()) {
    const [bonded, unbonding] = await st.read.stakeOf([a.id]);
    assert.equal(bonded + unbonding, stakes[i]);
    assert.equal(await d.read.openChallenges([a.id]), BigInt(open.filter((x) => x.agent === i).length));
  }
  for (const [v, bond] of bonds)
    assert.equal((await d.read.validatorOf([t.account(v).address]))[2], bond, `bond of ${v}`);
}

modelTest(
  "Disputes: random challenge / vote / resolve sequences keep bonds and stakes right",
  sequenceArb,
  runSequence,
  seen,
);
