import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openDatabase } from "@verity/chain";
import { BaseError, type SignedMandate, type SpendMandate } from "@verity/core";
import fc from "fast-check";
import { createMandateLedger } from "./mandate-ledger.ts";

const T0 = 1_800_000_000_000; // ms
const HOUR = 3_600_000;

function signed(overrides: Partial<SpendMandate> = {}): SignedMandate {
  return {
    chainId: 31337,
    signature: `0x${"00".repeat(65)}`,
    mandate: {
      owner: "0x00000000000000000000000000000000000000a1",
      spender: "0x00000000000000000000000000000000000000a2",
      token: "0x00000000000000000000000000000000000000a3",
      perCall: 100n,
      perHour: 250n,
      perDay: 600n,
      total: 1_000n,
      maxInputPricePerMTok: 0n,
      maxOutputPricePerMTok: 0n,
      models: [],
      quantizations: [],
      counterparties: [],
      validAfter: BigInt(T0 / 1000),
      validBefore: BigInt(T0 / 1000 + 30 * 24 * 3600),
      salt: `0x${"22".repeat(32)}`,
      ...overrides,
    },
  };
}

function ledgerAt(clock: { now: number }, mandate = signed(), path = ":memory:") {
  const db = openDatabase(path);
  return { db, ledger: createMandateLedger({ db, signed: mandate, now: () => clock.now }) };
}

function limitOf(fn: () => void): string | undefined {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof BaseError, String(error));
    return `${error.code}:${(error.details as { limit?: string } | undefined)?.limit ?? ""}`;
  }
  return undefined;
}

test("each limit is refused with its name, and a refusal records nothing", () => {
  const clock = { now: T0 };
  const { ledger } = ledgerAt(clock);
  assert.equal(
    limitOf(() => ledger.reserve("a", 101n)),
    "mandate_exceeded:per_call",
  );
  assert.equal(ledger.spent().total, 0n);
  ledger.reserve("a", 100n);
  ledger.reserve("b", 100n);
  assert.equal(
    limitOf(() => ledger.reserve("c", 51n)),
    "mandate_exceeded:per_hour",
  );
  assert.deepEqual(ledger.spent(), { hour: 200n, day: 200n, total: 200n });
  clock.now += HOUR; // the hour rolls over
  ledger.reserve("c", 100n);
  ledger.reserve("d", 100n);
  clock.now += HOUR;
  ledger.reserve("e", 100n);
  ledger.reserve("f", 100n);
  assert.equal(
    limitOf(() => ledger.reserve("g", 1n)),
    "mandate_exceeded:per_day",
  );
  clock.now += 24 * HOUR;
  ledger.reserve("g", 100n);
  ledger.reserve("h", 100n);
  clock.now += HOUR;
  ledger.reserve("i", 100n);
  ledger.reserve("j", 100n);
  assert.equal(
    limitOf(() => ledger.reserve("k", 1n)),
    "mandate_exceeded:total",
  );
  assert.equal(ledger.spent().total, 1_000n);
  clock.now = T0 + 31 * 24 * HOUR;
  assert.equal(
    limitOf(() => ledger.check(1n)),
    "mandate_expired:",
  );
});

test("a verified receipt lowers the spend to its charge; a release gives it back; an unknown outcome keeps the ceiling", () => {
  const clock = { now: T0 };
  const { ledger } = ledgerAt(clock);
  ledger.reserve("a", 100n);
  ledger.settle("a", 30n);
  ledger.settle("a", 90n); // never raised back
  assert.equal(ledger.spent().hour, 30n);
  ledger.reserve("b", 100n);
  ledger.release("b");
  ledger.reserve("c", 100n); // orphaned: stays at its ceiling
  assert.equal(ledger.spent().hour, 130n);
  assert.equal(
    limitOf(() => ledger.resize("c", 121n)),
    "mandate_exceeded:per_call",
  );
  ledger.resize("c", 100n);
  assert.equal(
    limitOf(() => ledger.reserve("d", 121n)),
    "mandate_exceeded:per_call",
  );
  ledger.reserve("d", 100n);
  assert.equal(
    limitOf(() => ledger.resize("d", 100n)),
    undefined,
  );
  assert.equal(
    limitOf(() => ledger.reserve("e", 21n)),
    "mandate_exceeded:per_hour",
  );
});

test("spends survive a restart of the client (same state file, a new process's ledger)", () => {
  const clock = { now: T0 };
  const path = join(mkdtempSync(join(tmpdir(), "verity-mandate-")), "client.sqlite");
  const first = ledgerAt(clock, signed(), path);
  first.ledger.reserve("a", 100n);
  first.ledger.reserve("b", 100n);
  first.db.close();
  const second = ledgerAt(clock, signed(), path);
  assert.equal(second.ledger.spent().hour, 200n);
  assert.equal(
    limitOf(() => second.ledger.reserve("c", 100n)),
    "mandate_exceeded:per_hour",
  );
  // Another mandate (another hash) has its own budget in the same file.
  const other = createMandateLedger({
    db: second.db,
    signed: signed({ salt: `0x${"33".repeat(32)}` }),
    now: () => clock.now,
  });
  other.reserve("c", 100n);
  second.db.close();
});

test("two processes on one state folder cannot overshoot together", () => {
  const clock = { now: T0 };
  const path = join(mkdtempSync(join(tmpdir(), "verity-mandate-")), "client.sqlite");
  const a = ledgerAt(clock, signed({ perHour: 0n, perDay: 0n }), path);
  const b = ledgerAt(clock, signed({ perHour: 0n, perDay: 0n }), path);
  let accepted = 0n;
  for (let i = 0; i < 30; i++) {
    for (const [name, side] of [
      ["a", a],
      ["b", b],
    ] as const) {
      if (limitOf(() => side.ledger.reserve(`${name}${i}`, 70n)) === undefined) accepted += 70n;
    }
  }
  assert.equal(accepted, 980n); // 14 × 70 ≤ 1,000 < 15 × 70
  assert.equal(a.ledger.spent().total, 980n);
  a.db.close();
  b.db.close();
});

test("property: whatever the order of reserves, settles and releases, no window ever holds more than its limit", () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant("reserve" as const), amount: fc.bigInt({ min: 1n, max: 150n }) }),
    fc.record({ kind: fc.constant("settle" as const), pick: fc.nat(), amount: fc.bigInt({ min: 0n, max: 150n }) }),
    fc.record({ kind: fc.constant("release" as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant("resize" as const), pick: fc.nat(), amount: fc.bigInt({ min: 1n, max: 150n }) }),
    fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 3 * HOUR }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
      const clock = { now: T0 };
      const { db, ledger } = ledgerAt(clock);
      // The model: every accepted spend with its time and current amount, from the rules alone.
      const model = new Map<string, { at: number; amount: bigint }>();
      let n = 0;
      for (const o of ops) {
        const ids = [...model.keys()];
        const sums = (except?: string) => {
          const s = { hour: 0n, day: 0n, total: 0n };
          for (const [id, e] of model) {
            if (id === except) continue;
            s.total += e.amount;
            if (e.at > clock.now - 24 * HOUR) s.day += e.amount;
            if (e.at > clock.now - HOUR) s.hour += e.amount;
          }
          return s;
        };
        const fits = (amount: bigint, except?: string) => {
          const s = sums(except);
          return amount <= 100n && s.hour + amount <= 250n && s.day + amount <= 600n && s.total + amount <= 1_000n;
        };
        if (o.kind === "wait") clock.now += o.ms;
        else if (o.kind === "reserve") {
          const id = `r${n++}`;
          const accepted = limitOf(() => ledger.reserve(id, o.amount)) === undefined;
          assert.equal(accepted, fits(o.amount), "the ledger accepts exactly what the rules allow");
          if (accepted) model.set(id, { at: clock.now, amount: o.amount });
        } else if (ids.length > 0) {
          const id = ids[o.pick % ids.length] as string;
          const entry = model.get(id) as { at: number; amount: bigint };
          if (o.kind === "release") {
            ledger.release(id);
            model.delete(id);
          } else if (o.kind === "settle") {
            ledger.settle(id, o.amount);
            if (o.amount < entry.amount) entry.amount = o.amount;
          } else if (o.amount > entry.amount) {
            const accepted = limitOf(() => ledger.resize(id, o.amount)) === undefined;
            assert.equal(accepted, fits(o.amount, id), "a raise is accepted exactly when the rules allow it");
            if (accepted) entry.amount = o.amount;
          }
        }
        let hour = 0n;
        let day = 0n;
        let total = 0n;
        for (const e of model.values()) {
          assert.ok(e.amount <= 100n, "per call");
          total += e.amount;
          if (e.at > clock.now - 24 * HOUR) day += e.amount;
          if (e.at > clock.now - HOUR) hour += e.amount;
        }
        assert.deepEqual(ledger.spent(), { hour, day, total });
        assert.ok(hour <= 250n && day <= 600n && total <= 1_000n, "no window over its limit");
      }
      db.close();
    }),
    { numRuns: 150 },
  );
});
