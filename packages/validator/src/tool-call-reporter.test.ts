import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import { connectChain, deploy, openDatabase } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import { reputationRegistryAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import { keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { claimTestChannel, openTestChannel, startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import type { ValidatorEvent } from "./challenger.ts";
import { createProviderEvidence } from "./provider-evidence.ts";
import { eventually, startTestValidator } from "./testing.ts";
import { createToolCallReporter } from "./tool-call-reporter.ts";
import { createTxSender } from "./tx-sender.ts";

let t: TestChain;
let deployment: Deployment;
let provider: TestProvider;
let agentId: bigint;
let modelId: bigint;

before(async () => {
  t = await createTestChain();
  deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  provider = await startTestProvider({ t, deployment });
  agentId = provider.info.agentId;
  modelId = provider.info.models[0]?.modelId as bigint;
});

after(async () => {
  await provider.close();
  await t.close();
});

let audit = 0;
/** Records `calls` scored tool calls (`valid` of them valid) in one audit of the provider. */
function scored(evidence: ReturnType<typeof createProviderEvidence>, calls: number, valid: number): void {
  evidence.record({
    agentId: agentId.toString(),
    id: keccak256(toHex(`audit-${audit++}`)),
    pass: true,
    toolCalls: { calls, valid, checks: [], unscored: 0 },
    at: Date.now(),
  });
}

async function reporterFor(account: string, db: DatabaseSync, clock: { now: number }) {
  const clients = await connectChain({
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account(account).privateKey),
    expectedChainId: deployment.chainId,
  });
  const evidence = createProviderEvidence(db);
  const events: ValidatorEvent[] = [];
  const reporter = createToolCallReporter({
    db,
    evidence,
    clients,
    deployment,
    sender: createTxSender(clients),
    publicUrl: () => "http://validator.example",
    now: () => clock.now,
    unpaidRetryMs: 0,
    onEvent: (e) => events.push(e),
  });
  return { reporter, evidence, events, address: clients.account.address };
}

const registry = () => deployment.contracts.ReputationRegistry.address;
const lastIndex = (client: `0x${string}`) =>
  t.publicClient.readContract({
    address: registry(),
    abi: reputationRegistryAbi,
    functionName: "getLastIndex",
    args: [agentId, client],
  });
const readFeedback = (client: `0x${string}`, index: bigint) =>
  t.publicClient.readContract({
    address: registry(),
    abi: reputationRegistryAbi,
    functionName: "readFeedback",
    args: [agentId, client, index],
  });

describe("tool-call reporter", () => {
  it("skips a provider it never paid, proves a claimed payment, then reports the smoothed score", async () => {
    const db = new DatabaseSync(":memory:");
    const clock = { now: 1_000_000 };
    const { reporter, evidence, events, address } = await reporterFor("validator-1", db, clock);
    scored(evidence, 12, 10);
    scored(evidence, 10, 8);
    await reporter.tick();
    assert.deepEqual(events.at(-1), {
      event: "tool_call_feedback_skipped",
      agentId: agentId.toString(),
      reason: "tool_call_feedback_unpaid",
      calls: 22,
    });
    assert.equal(await lastIndex(address), 0n);
    // A channel with nothing claimed yet is no payment either.
    const channelId = await openTestChannel({ t, deployment, payer: "validator-1", agentId, modelId, amount: 1_000n });
    await reporter.tick();
    assert.equal(events.at(-1)?.reason, "tool_call_feedback_unpaid");
    assert.equal(reporter.report(agentId.toString()), undefined);
    await claimTestChannel({ t, deployment, payer: "validator-1", claimer: "provider-1", channelId, amount: 10n });
    await reporter.tick();
    assert.equal(events.at(-1)?.event, "tool_call_feedback");
    assert.equal(await lastIndex(address), 1n);
    const [value, decimals, tag1, tag2] = await readFeedback(address, 1n);
    // (18 + 1) / (22 + 2) = 79.17 %
    assert.deepEqual([value, decimals, tag1, tag2], [7917n, 2, "tool_calls", "verity-validator"]);
    assert.equal(reporter.report(agentId.toString())?.calls, 22);

    // Fewer than 20 new calls: nothing; 20 more within the hour: nothing; after the hour: the new score.
    scored(evidence, 5, 5);
    clock.now += 3_600_000;
    await reporter.tick();
    assert.equal(await lastIndex(address), 1n);
    clock.now -= 3_000_000;
    scored(evidence, 20, 20);
    await reporter.tick();
    assert.equal(await lastIndex(address), 1n);
    clock.now += 3_000_000;
    await reporter.tick();
    assert.equal(await lastIndex(address), 2n);
    const [second] = await readFeedback(address, 2n);
    assert.equal(second, BigInt(Math.round(((43 + 1) / (47 + 2)) * 10_000)));

    // A restart on the same database neither re-sends nor forgets the counts.
    const restarted = await reporterFor("validator-1", db, clock);
    clock.now += 10 * 3_600_000;
    await restarted.reporter.tick();
    assert.equal(await lastIndex(address), 2n);
    scored(restarted.evidence, 20, 0);
    await restarted.reporter.tick();
    assert.equal(await lastIndex(address), 3n);
  });

  it("settles a report cut short after it landed without sending it again", async () => {
    const db = new DatabaseSync(":memory:");
    const clock = { now: 5_000_000 };
    const { reporter, evidence, address } = await reporterFor("validator-2", db, clock);
    const channelId = await openTestChannel({ t, deployment, payer: "validator-2", agentId, modelId, amount: 1_000n });
    await claimTestChannel({ t, deployment, payer: "validator-2", claimer: "provider-1", channelId, amount: 10n });
    scored(evidence, 30, 30);
    await reporter.tick();
    assert.equal(await lastIndex(address), 1n);
    // A crash between the receipt and the bookkeeping: the feedback landed, the row is still pending.
    scored(evidence, 30, 0);
    clock.now += 3_600_000;
    const before = await lastIndex(address);
    const wallet = t.wallet("validator-2");
    const hash = await wallet.writeContract({
      address: registry(),
      abi: reputationRegistryAbi,
      functionName: "giveFeedback",
      args: [agentId, 5161n, 2, "tool_calls", "verity-validator", "", "", `0x${"00".repeat(32)}`],
    });
    await t.publicClient.waitForTransactionReceipt({ hash });
    db.prepare(
      `INSERT INTO tool_call_pending (agent_id, calls, valid, value, index_before, at, tx_hash)
       VALUES (?, 60, 30, '5161', ?, ?, NULL)`,
    ).run(agentId.toString(), before.toString(), clock.now);
    const restarted = await reporterFor("validator-2", db, clock);
    await restarted.reporter.tick();
    assert.equal(await lastIndex(address), 2n, "not sent twice");
    assert.equal(restarted.reporter.pending(agentId.toString()), undefined);
    assert.equal(restarted.reporter.report(agentId.toString())?.calls, 60);
    // A pending row whose send never landed is dropped and sent afresh.
    db.prepare(
      `INSERT INTO tool_call_pending (agent_id, calls, valid, value, index_before, at, tx_hash)
       VALUES (?, 90, 30, '3370', ?, ?, NULL)`,
    ).run(agentId.toString(), "2", clock.now);
    db.prepare("UPDATE tool_call_reports SET at = 0 WHERE agent_id = ?").run(agentId.toString());
    scored(restarted.evidence, 30, 0);
    await restarted.reporter.tick();
    assert.equal(await lastIndex(address), 3n);
    assert.equal(restarted.reporter.report(agentId.toString())?.calls, 90);
  });

  it("a refused report (the reporter's account controls the agent) leaves nothing pending and waits before retrying", async () => {
    const db = new DatabaseSync(":memory:");
    const clock = { now: 9_000_000 };
    const { reporter, evidence, events, address } = await reporterFor("provider-1", db, clock);
    const channelId = await openTestChannel({ t, deployment, payer: "provider-1", agentId, modelId, amount: 1_000n });
    await claimTestChannel({ t, deployment, payer: "provider-1", claimer: "provider-1", channelId, amount: 10n });
    scored(evidence, 30, 30);
    await reporter.tick();
    assert.deepEqual(
      events.map((e) => [e.event, e.reason]),
      [["tool_call_feedback_skipped", "self_feedback_not_allowed"]],
    );
    assert.equal(reporter.pending(agentId.toString()), undefined);
    await reporter.tick();
    assert.equal(events.length, 1, "not retried within the interval");
    clock.now += 3_600_000;
    await reporter.tick();
    assert.equal(events.length, 2);
    assert.equal(await lastIndex(address), 0n);
  });

  it("runs in the validator service: a started validator reports on its chain loop", async () => {
    const started = await startTestValidator({ t, deployment, account: "validator-4" });
    try {
      const address = started.info.address;
      const channelId = await openTestChannel({
        t,
        deployment,
        payer: "validator-4",
        agentId,
        modelId,
        amount: 1_000n,
      });
      await claimTestChannel({ t, deployment, payer: "validator-4", claimer: "provider-1", channelId, amount: 10n });
      // Scored audits as the audit worker logs them, in the validator's own database.
      const db = openDatabase(join(started.dataDir, "validator.sqlite"));
      scored(createProviderEvidence(db), 25, 24);
      db.close();
      await eventually("the validator's tool-call feedback", async () => (await lastIndex(address)) === 1n);
      const [value, , tag1] = await readFeedback(address, 1n);
      assert.deepEqual([value, tag1], [BigInt(Math.round((25 / 27) * 10_000)), "tool_calls"]);
      assert.ok(started.events.some((e) => e.event === "tool_call_feedback"));
    } finally {
      await started.close();
    }
  });
});
