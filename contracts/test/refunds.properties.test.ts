/**
 * Property: under random sequences of claims, challenges and verdicts on two channels of one
 * provider, no channel's payer is ever refunded more than the channel paid the provider.
 *
 * The model keeps its own books from the outside: what each channel paid is the sum of the
 * `Claimed` increases of its claims, what each payer got back is the sum of the `refunded` of the
 * guilty verdicts on its channel's receipts, and the payer's token balance must move by exactly those
 * refunds. After every step: Σ refunds ≤ Σ paid per channel, the payer's balance matches, the
 * contract's `refundedOf` agrees, and a guilty verdict on a channel that has paid more than it got
 * back (with stake left to slash) refunds something.
 */
import assert from "node:assert/strict";
import { after, before } from "node:test";
import fc from "fast-check";
import { type Hex, parseEventLogs } from "viem";
import { createTestChain, type TestChain } from "../../packages/chain/src/testing.ts";
import { disputesAbi, paymentChannelsAbi } from "../generated/index.ts";
import { type DisputeScene, disputeScene } from "./disputes-helpers.ts";
import { deployFixture, type Fixture, rewinder } from "./fixture.ts";
import { modelTest, outcomes } from "./invariant-harness.ts";

const STAKE = 1_000_000_000_000n;

type Op =
  | { kind: "claim"; ch: number; step: bigint }
  | { kind: "challenge"; ch: number; charge: bigint; cumulative: bigint; from: number }
  | { kind: "verdict"; dispute: number; guilty: boolean }
  | { kind: "release"; dispute: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant("claim" as const),
      ch: fc.nat(1),
      step: fc.bigInt({ min: 1n, max: 40_000n }),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("challenge" as const),
      ch: fc.nat(1),
      charge: fc.bigInt({ min: 1n, max: 30_000n }),
      cumulative: fc.bigInt({ min: 1n, max: 200_000n }),
      from: fc.nat(1),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({ kind: fc.constant("verdict" as const), dispute: fc.nat(3), guilty: fc.boolean() }),
    weight: 3,
  },
  { arbitrary: fc.record({ kind: fc.constant("release" as const), dispute: fc.nat(3) }), weight: 2 },
);

let t: TestChain;
let f: Fixture;
let s: DisputeScene;
let reset: () => Promise<void>;
const channels: { id: Hex; payer: string }[] = [];
const seen = outcomes();

before(async () => {
  t = await createTestChain();
  f = await deployFixture(t);
  s = await disputeScene(t, f, STAKE);
  channels.push({ id: s.channelId, payer: "client-1" });
  const config = f.channelConfig("client-4", s.agentId, s.modelId);
  const { channelId } = await f.openChannel("client-4", config, 10_000_000n);
  channels.push({ id: channelId, payer: "client-4" });
  reset = rewinder(t);
});
after(() => t.close());

async function run(ops: Op[]): Promise<void> {
  await reset();
  const paid = channels.map(() => 0n);
  const refunded = channels.map(() => 0n);
  const signed = channels.map(() => 0n);
  const start = await Promise.all(channels.map((c) => f.balanceOf(s.address(c.payer))));
  const open: { id: bigint; ch: number; committee: string[] }[] = [];
  const convicted: { id: bigint; ch: number }[] = [];

  for (const op of ops) {
    if (op.kind === "claim") {
      signed[op.ch]! += op.step;
      const tx = await s.claim(signed[op.ch]!, channels[op.ch]!.id, channels[op.ch]!.payer);
      for (const e of parseEventLogs({ abi: paymentChannelsAbi, logs: tx.logs, eventName: "Claimed" })) {
        paid[op.ch]! += e.args.increase;
      }
      seen.count("claim");
    } else if (op.kind === "challenge") {
      const receipt = await s.receipt({
        channelId: channels[op.ch]!.id,
        charge: op.charge,
        cumulativeCharged: op.cumulative,
      });
      const { disputeId, committee } = await s.challenge(op.from === 0 ? "client-2" : "client-3", receipt);
      open.push({ id: disputeId, ch: op.ch, committee });
      seen.count("challenge");
    } else if (op.kind === "release") {
      // Anyone may release a held refund; it pays the payer only what the channel paid since.
      const d = convicted[op.dispute % Math.max(convicted.length, 1)];
      if (!d) continue;
      const wallet = f.wallet("client-5");
      let tx: Awaited<ReturnType<typeof f.publicClient.waitForTransactionReceipt>> | undefined;
      try {
        const hash = await wallet.writeContract({
          address: f.addresses.disputes,
          abi: disputesAbi,
          functionName: "releaseRefund",
          args: [d.id],
        } as never);
        tx = await f.publicClient.waitForTransactionReceipt({ hash });
      } catch {
        seen.count("release:refused");
      }
      if (tx) {
        const [released] = parseEventLogs({ abi: disputesAbi, logs: tx.logs, eventName: "RefundReleased" });
        refunded[d.ch]! += released?.args.toPayer ?? 0n;
        seen.count("release:paid");
      }
    } else {
      const d = open.splice(op.dispute % Math.max(open.length, 1), 1)[0];
      if (!d) continue;
      const dispute = await f.as("client-5").disputes.read.getDispute([d.id]);
      const commitEnd = BigInt(dispute.drawnAt) + s.p.commitWindow;
      let now = (await f.publicClient.getBlock()).timestamp;
      const voting = now < commitEnd;
      if (voting) {
        for (const m of d.committee) await s.commit(d.id, m, op.guilty);
        now = (await f.publicClient.getBlock()).timestamp;
        await t.increaseTime(commitEnd - now + 1n);
        for (const m of d.committee) await s.reveal(d.id, m, op.guilty);
      }
      await s.toResolvable(d.id);
      const before = paid[d.ch]! - refunded[d.ch]!;
      const tx = await s.resolve(d.id);
      const [resolved] = parseEventLogs({ abi: disputesAbi, logs: tx.logs, eventName: "DisputeResolved" });
      const refund = resolved?.args.refunded ?? 0n;
      refunded[d.ch]! += refund;
      const guilty = voting && op.guilty;
      if (guilty) convicted.push({ id: d.id, ch: d.ch });
      assert.equal(resolved?.args.guilty, guilty);
      if (guilty && before > 0n) assert.ok(refund > 0n, "a guilty verdict refunds what is left of the payment");
      if (!guilty) assert.equal(refund, 0n);
      seen.count(guilty ? (refund > 0n ? "verdict:refund" : "verdict:nothingLeft") : "verdict:notGuilty");
      // Members that missed their vote lost part of their bond: they top it up to stay drawable.
      for (const m of d.committee) {
        const [, , bond] = await f.as(m).disputes.read.validatorOf([s.address(m)]);
        if (bond < s.p.validatorBond) await f.mined(f.as(m).disputes.write.topUpBond([s.p.validatorBond - bond]));
      }
    }
    for (const [i, c] of channels.entries()) {
      assert.ok(refunded[i]! <= paid[i]!, `channel ${i} refunded ${refunded[i]} of ${paid[i]} paid`);
      assert.equal(await f.balanceOf(s.address(c.payer)), start[i]! + refunded[i]!, `payer of channel ${i}`);
      assert.equal(await f.as("client-5").disputes.read.refundedOf([c.id]), refunded[i]!);
    }
  }
}

modelTest(
  "Disputes: Σ refunds ≤ Σ paid on every channel under random claims, challenges and verdicts",
  fc.array(opArb, { minLength: 1, maxLength: 10 }),
  run,
  seen,
);
