import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { deploy, openDatabase } from "@verity/chain";
import { channelViewOf, createTestChain, type TestChain } from "@verity/chain/testing";
import { disputesAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import { startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import { type AuditRecord, createAuditStore } from "./audit-store.ts";
import type { CanaryOutcome } from "./canary.ts";
import { canaryRequest } from "./canary-prompts.ts";
import { createCanaryStore } from "./canary-store.ts";
import { eventually, startTestValidator, type TestValidator } from "./testing.ts";

/** Long enough that the timer never fires during a test: canaries are sent with runOnce(). */
const MANUAL = { intervalMs: 3_600_000 };
const closers: (() => Promise<void>)[] = [];
let t: TestChain;
let deployment: Deployment;
let honest: TestProvider;

before(async () => {
  t = await createTestChain();
  deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  honest = await startTestProvider({ t, deployment });
  closers.push(() => honest.close());
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await t?.close();
});

async function auditOf(v: TestValidator, outcome: CanaryOutcome): Promise<AuditRecord> {
  assert.equal(
    outcome.outcome,
    "sent",
    JSON.stringify(outcome, (_, x) => (typeof x === "bigint" ? `${x}` : x)),
  );
  const id = outcome.outcome === "sent" ? outcome.auditId : null;
  assert.ok(id, "the canary's answer was queued for audit");
  return eventually("the canary's audit", async () => {
    const r = (await (await fetch(`${v.info.url}/v1/audits/${id}`)).json()) as AuditRecord;
    return r.status === "queued" ? undefined : r;
  });
}

test("canary requests look like client traffic: varied prompts and parameters within the bounds", () => {
  const requests = Array.from({ length: 200 }, () =>
    canaryRequest({ model: "m", maxTokens: 128, offerMaxTokens: 512 }),
  );
  const prompts = new Set(requests.map((r) => JSON.stringify(r.messages)));
  assert.ok(prompts.size > 150, `${prompts.size} distinct conversations in 200`);
  assert.ok(requests.some((r) => r.stream === true) && requests.some((r) => r.stream !== true));
  assert.ok(requests.some((r) => r.temperature === undefined) && requests.some((r) => r.temperature === 0));
  for (const r of requests) {
    const max = r.max_completion_tokens ?? r.max_tokens;
    assert.ok(
      max !== undefined && max !== null && max <= 128,
      "max_tokens is set and bounded when the offer's is larger",
    );
    assert.equal(
      Object.keys(r).filter(
        (k) => !/^(model|messages|temperature|top_p|seed|stop|max_(completion_)?tokens|stream)$/.test(k),
      ).length,
      0,
    );
  }
});

test("a canary to an honest provider is paid like any request, audited, and passes", async () => {
  const v = await startTestValidator({ t, deployment, account: "validator-1", canary: MANUAL });
  closers.push(() => v.close());
  const canary = v.validator.canary;
  assert.ok(canary);
  const outcome = await canary.runOnce();
  const audit = await auditOf(v, outcome);
  assert.equal(audit.status, "passed", JSON.stringify(audit.verdict));
  assert.equal(audit.challenge, null);
  assert.equal(audit.agentId, honest.info.agentId.toString());
  // Paid from the validator's own channel, opened with the small canary deposit.
  const [channel] = (await canary.client?.channels()) ?? [];
  assert.ok(channel);
  assert.equal(audit.channelId, channel.channelId.toLowerCase());
  const onChain = await channelViewOf({
    publicClient: t.publicClient,
    paymentChannels: deployment.contracts.PaymentChannels.address,
    channelId: channel.channelId,
  });
  assert.equal(onChain.payer.toLowerCase(), v.info.address.toLowerCase());
  assert.equal(onChain.deposit, 100_000n, "a tenth of a TestUSD");
  const charge = outcome.outcome === "sent" ? outcome.charge : 0n;
  assert.ok(charge > 0n);
  assert.equal(channel.charged, charge);
  const stats = v.validator.stats();
  assert.deepEqual(
    { ...stats.canaries },
    {
      sent: 1,
      failed: 0,
      queued: 0,
      audited: 1,
      passed: 1,
      caught: 0,
      auditErrors: 0,
      spend: charge.toString(),
      spendLastDay: charge.toString(),
      budgetUsedLastDay: charge.toString(),
    },
  );
  const metrics = await (await fetch(`${v.info.url}/metrics`)).text();
  assert.match(metrics, /verity_validator_canaries_total\{outcome="sent"\} 1/);
  assert.match(metrics, /verity_validator_canary_audits_total\{verdict="pass"\} 1/);
  assert.match(metrics, new RegExp(`verity_validator_canary_spend_total ${charge}`));
  assert.ok(v.events.some((e) => e.event === "audit" && e.canary === true && e.pass === true));
  assert.deepEqual(v.errors, []);
});

test("the daily cap stops spending, across a restart; the channel is resumed", async (ctx) => {
  const cap = 1_500n; // one canary's ceiling on these prices is well under 1,000 base units
  const config = { intervalMs: 20, maxSpendPerDay: cap };
  const first = await startTestValidator({ t, deployment, account: "validator-2", canary: config });
  let closed = false;
  closers.push(async () => {
    if (!closed) await first.close();
  });
  await eventually("a canary skipped for the budget", async () => {
    const metrics = await (await fetch(`${first.info.url}/metrics`)).text();
    return /verity_validator_canaries_total\{outcome="skipped_budget"\} [1-9]/.test(metrics);
  });
  const channels = ((await first.validator.canary?.client?.channels()) ?? []).map((c) => c.channelId);
  await first.close({ keepEngines: true }); // waits for a canary still in flight
  closed = true;
  assert.equal(channels.length, 1);
  const db = openDatabase(join(first.dataDir, "validator.sqlite"));
  createAuditStore(db);
  const spent = createCanaryStore(db).totals(Date.now()).spend;
  db.close();
  assert.ok(spent > 0n && spent <= cap);

  // Restarted with a cap of exactly what was spent: the ledger survived, so nothing more fits today.
  const again = await startTestValidator({
    t,
    deployment,
    account: "validator-2",
    engines: first.engines,
    dataDir: first.dataDir,
    canary: { intervalMs: MANUAL.intervalMs, maxSpendPerDay: spent },
  });
  closers.push(() => again.close());
  assert.deepEqual(await again.validator.canary?.runOnce(), { outcome: "skipped", reason: "budget" });
  const s = again.validator.stats().canaries;
  ctx.diagnostic(`${s.sent} canaries spent ${s.spend} of ${cap}`);
  assert.ok(s.sent >= 1);
  assert.equal(s.failed, 0);
  assert.equal(BigInt(s.spend), spent);
  const resumed = (await again.validator.canary?.client?.channels()) ?? [];
  assert.deepEqual(
    resumed.map((c) => c.channelId),
    channels,
  );
  assert.equal(
    resumed.reduce((sum, c) => sum + c.charged, 0n),
    spent,
    "what the channel was charged is what the canaries spent",
  );
});

test("a canary that cannot be paid is recorded as failed, not thrown, and costs nothing against the cap", async () => {
  // A deposit of one base unit is below any request's ceiling: the SDK refuses before a voucher is signed.
  const v = await startTestValidator({ t, deployment, account: "validator-3", canary: { ...MANUAL, deposit: 1n } });
  closers.push(() => v.close());
  const outcome = await v.validator.canary?.runOnce();
  assert.deepEqual(outcome, { outcome: "failed", agentId: honest.info.agentId, code: "ceiling_over_cap" });
  const s = v.validator.stats().canaries;
  assert.equal(s.failed, 1);
  assert.equal(s.sent, 0);
  assert.equal(s.spend, "0");
  assert.equal(s.budgetUsedLastDay, "0");
  assert.ok(v.events.some((e) => e.event === "canary" && e.outcome === "failed" && e.code === "ceiling_over_cap"));
  const metrics = await (await fetch(`${v.info.url}/metrics`)).text();
  assert.match(metrics, /verity_validator_canaries_total\{outcome="failed"\} 1/);
});

test("a canary to a substituting provider fails its audit and is challenged", async (ctx) => {
  const t2 = await createTestChain();
  closers.push(() => t2.close());
  const d2 = await deploy({
    provider: t2.edr.provider,
    deployer: t2.account("deployer").privateKey,
    params: { committeeSize: 1 },
  });
  const cheat = await startTestProvider({ t: t2, deployment: d2, substitute: { model: "verity-tiny-sub", rate: 1 } });
  closers.push(() => cheat.close());
  const member = await startTestValidator({ t: t2, deployment: d2, account: "validator-2" });
  closers.push(() => member.close());
  const v = await startTestValidator({ t: t2, deployment: d2, account: "validator-1", canary: MANUAL });
  closers.push(() => v.close());
  // Every answer is substituted; a very short one may carry too little evidence, so send until one fails.
  let failed: AuditRecord | undefined;
  for (let i = 0; i < 5 && !failed; i++) {
    const audit = await auditOf(v, (await v.validator.canary?.runOnce()) as CanaryOutcome);
    if (audit.status === "failed") failed = audit;
  }
  assert.ok(failed, "a substituted canary answer failed its audit");
  ctx.diagnostic(`caught after ${v.validator.stats().canaries.sent} canaries: ${failed.verdict?.reasons.join(", ")}`);
  const challenged = await eventually("the challenge", async () => {
    const r = (await (await fetch(`${v.info.url}/v1/audits/${failed.id}`)).json()) as AuditRecord;
    return r.challenge?.status === "opened" ? r : undefined;
  });
  const disputeId = BigInt(challenged.challenge?.disputeId ?? "0");
  const dispute = await t2.publicClient.readContract({
    address: d2.contracts.Disputes.address,
    abi: disputesAbi,
    functionName: "getDispute",
    args: [disputeId],
  });
  assert.equal(dispute.agentId, cheat.info.agentId);
  assert.equal(dispute.challenger.toLowerCase(), v.info.address.toLowerCase());
  const stats = v.validator.stats();
  assert.ok(stats.canaries.caught >= 1);
  assert.ok(stats.challenges.opened >= 1);
  assert.ok(cheat.provider.substitutedCount() >= stats.canaries.sent);
  assert.ok(v.events.some((e) => e.event === "challenge_opened" && e.auditId === failed.id));
});
