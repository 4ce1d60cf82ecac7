import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { deploy, openDatabase } from "@verity/chain";
import { channelConfigOf, createTestChain, type TestChain } from "@verity/chain/testing";
import { agentRegistryAbi, disputesAbi, stakingAbi, testUSDAbi } from "@verity/contracts";
import { auditCommitOf, type Deployment, deriveSeedKey, receiptFromJson } from "@verity/core";
import { createTestEngine, type Engine } from "@verity/engine";
import { createVoucherFetch } from "@verity/sdk";
import { keccak256, stringToHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  claimTestChannel,
  mintTestUSD,
  openTestChannel,
  registerTestModel,
  startTestProvider,
  type TestProvider,
} from "../../provider/src/testing.ts";
import { createAuditStore } from "./audit-store.ts";
import { receiptDigest } from "./evidence.ts";
import { type AuditSampleInput, parseAuditSample } from "./intake.ts";
import { eventually, signedTestSample, startTestValidator, type TestValidator } from "./testing.ts";

// Long enough that the real time the test spends before advancing the chain never closes a reveal window early.
const WINDOW = 3600n;
let t: TestChain;
let deployment: Deployment;
let p: TestProvider;
let modelId: bigint;
let channel: `0x${string}`;
let substitute: Engine;
const v: TestValidator[] = [];
const providerKey = () => t.account("provider-1").privateKey;

before(async () => {
  t = await createTestChain();
  deployment = await deploy({
    provider: t.edr.provider,
    deployer: t.account("deployer").privateKey,
    params: { committeeSize: 3, commitWindow: WINDOW, revealWindow: WINDOW },
  });
  p = await startTestProvider({ t, deployment });
  modelId = (p.info.models[0] as { modelId: bigint }).modelId;
  channel = await openTestChannel({
    t,
    deployment,
    payer: "client-1",
    agentId: p.info.agentId,
    modelId,
    amount: 100_000_000n,
  });
  substitute = await createTestEngine({ name: "verity-tiny-sub" });
  for (const account of ["validator-1", "validator-2", "validator-3", "validator-4"]) {
    v.push(await startTestValidator({ t, deployment, account }));
  }
});

after(async () => {
  for (const validator of v) await validator.close();
  await substitute?.close();
  await p?.close();
  await t?.close();
});

const post = (url: string, body: string) =>
  fetch(`${url}/v1/audits`, { method: "POST", headers: { "content-type": "application/json" }, body });
const record = async (url: string, id: string) => (await fetch(`${url}/v1/audits/${id}`)).json();

function honestSample(overrides: { timestamp?: bigint; content?: string } = {}) {
  return signedTestSample({
    engine: p.engines[0] as Engine,
    providerKey: providerKey(),
    deployment,
    agentId: p.info.agentId,
    channelId: channel,
    modelId,
    model: "verity-tiny",
    content: overrides.content ?? "describe the harbour at dawn",
    sampling: { temperature: 0.8, topP: 0.95, seed: 5, maxTokens: 32, stop: [] },
    charge: 1_000n,
    ...(overrides.timestamp === undefined ? {} : { timestamp: overrides.timestamp }),
  });
}

/** A sample whose receipt's params carry a seed key and audit commitment, with (variants of) the client's reveal. */
function seededSample(
  o: { reveal?: false; revealSecret?: `0x${string}`; seedChannel?: `0x${string}`; pBase?: number } = {},
) {
  const auditSecret = `0x${"5e".repeat(32)}` as const;
  const voucherAmount = 5_000n;
  const seedKey = deriveSeedKey({
    chainId: deployment.chainId,
    channelId: o.seedChannel ?? channel,
    voucherAmount,
    auditSecret,
  });
  return signedTestSample({
    engine: p.engines[0] as Engine,
    providerKey: providerKey(),
    deployment,
    agentId: p.info.agentId,
    channelId: channel,
    modelId,
    model: "verity-tiny",
    content: "a seeded answer",
    sampling: {
      temperature: 0.8,
      topP: 0.95,
      seed: 5,
      maxTokens: 16,
      stop: [],
      seedKey,
      auditCommit: auditCommitOf(auditSecret),
    },
    charge: 1_000n,
    ...(o.reveal === false
      ? {}
      : {
          reveal: {
            auditSecret: o.revealSecret ?? auditSecret,
            voucherAmount: voucherAmount.toString(),
            policy: { pBase: o.pBase ?? 1 },
          },
        }),
  });
}

test("the intake refuses bad samples with a reason code and queues nothing", async () => {
  const v1 = v[0] as TestValidator;
  const base = await honestSample();
  const subModelId = await registerTestModel(t, deployment, substitute);
  const auditWindow = await t.publicClient.readContract({
    address: deployment.contracts.Disputes.address,
    abi: disputesAbi,
    functionName: "auditWindow",
  });
  const old = await honestSample({ timestamp: BigInt(Math.floor(Date.now() / 1000)) - BigInt(auditWindow) - 3_600n });
  const wrongSigner = await signedTestSample({
    engine: p.engines[0] as Engine,
    providerKey: t.account("client-1").privateKey,
    deployment,
    agentId: p.info.agentId,
    channelId: channel,
    modelId,
    model: "verity-tiny",
    content: "a forged receipt",
    sampling: { temperature: 0, topP: 1, seed: 1, maxTokens: 8, stop: [] },
    charge: 1n,
  });
  const ids = [...(base.outputTokenIds ?? [])];
  ids[0] = ((ids[0] ?? 0) + 1) % 512;
  const withModel = (s: AuditSampleInput, id: bigint): AuditSampleInput => ({
    ...s,
    modelId: id.toString(),
    receipt: { ...s.receipt, receipt: { ...s.receipt.receipt, modelId: id.toString() } },
  });
  const cases: [string, string, number, string][] = [
    ["not JSON", "{not json", 400, "invalid_json"],
    ["empty object", "{}", 400, "audit_sample_invalid"],
    ["ids not matching the receipt", JSON.stringify({ ...base, outputTokenIds: ids }), 400, "transcript_hash_mismatch"],
    ["seeded receipt without the reveal", JSON.stringify(await seededSample({ reveal: false })), 400, "missing_seed"],
    [
      "reveal of another secret",
      JSON.stringify(await seededSample({ revealSecret: `0x${"66".repeat(32)}` })),
      400,
      "audit_commit_mismatch",
    ],
    [
      "seed key of another channel",
      JSON.stringify(await seededSample({ seedChannel: `0x${"09".repeat(32)}` })),
      400,
      "seed_derivation_mismatch",
    ],
    ["receipt the draw did not select", JSON.stringify(await seededSample({ pBase: 0 })), 400, "audit_not_selected"],
    ["another chain", JSON.stringify({ ...base, chainId: 1 }), 400, "wrong_chain"],
    [
      "another deployment",
      JSON.stringify({ ...base, paymentChannels: `0x${"12".repeat(20)}` }),
      400,
      "wrong_deployment",
    ],
    ["unregistered model", JSON.stringify(withModel(base, 999n)), 404, "unknown_model"],
    ["registered model not run here", JSON.stringify(withModel(base, subModelId)), 422, "model_not_served"],
    ["receipt not signed by the provider", JSON.stringify(wrongSigner), 502, "receipt_invalid"],
    ["receipt past the audit window", JSON.stringify(old), 422, "challenge_window_closed"],
    ["body too large", JSON.stringify({ ...base, output: "x".repeat(9 * 1024 * 1024) }), 413, "payload_too_large"],
  ];
  for (const [name, body, status, code] of cases) {
    const response = await post(v1.info.url, body);
    const json = (await response.json()) as { error?: { code?: string } };
    assert.equal(response.status, status, `${name}: ${JSON.stringify(json)}`);
    assert.equal(json.error?.code, code, name);
  }
  const stats = v1.validator.stats();
  assert.deepEqual(stats.audits, { queued: 0, passed: 0, failed: 0, error: 0 });
  const listed = (await (await fetch(`${v1.info.url}/v1/audits`)).json()) as { data: unknown[] };
  assert.equal(listed.data.length, 0);
});

test("an honest provider's paid answer passes and is not challenged; a duplicate returns the record", async () => {
  const v1 = v[0] as TestValidator;
  const payer = createVoucherFetch({
    channelId: channel,
    authorizer: privateKeyToAccount(t.account("client-1").privateKey),
    chainId: deployment.chainId,
    paymentChannels: deployment.contracts.PaymentChannels.address,
    headroom: 10_000n,
  });
  const request = {
    model: "verity-tiny",
    messages: [{ role: "user", content: "Tell me about lighthouses." }],
    temperature: 0.8,
    top_p: 0.95,
    seed: 11,
    max_tokens: 40,
  };
  const paid = await payer.fetch(`${p.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(request),
  });
  assert.equal(paid.status, 200);
  const body = (await paid.json()) as {
    choices: { message: { content: string } }[];
    verity: {
      receipt: never;
      signature: string;
      signer: string;
      transcript?: { promptTokenIds: number[]; outputTokenIds: number[] };
    };
  };
  // Token ids: the paid response's transcript when the provider sends one, else the operator route (same seed).
  let transcript = body.verity.transcript;
  if (!transcript) {
    const op = await fetch(`${p.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${p.operatorKey}` },
      body: JSON.stringify(request),
    });
    transcript = ((await op.json()) as { verity: typeof transcript }).verity;
  }
  assert.ok(transcript);
  const sample: AuditSampleInput = {
    version: 1,
    chainId: deployment.chainId,
    paymentChannels: deployment.contracts.PaymentChannels.address,
    agentId: p.info.agentId.toString(),
    channelId: channel,
    modelId: modelId.toString(),
    model: "verity-tiny",
    kind: "chat",
    request,
    output: body.choices[0]?.message.content ?? "",
    promptTokenIds: transcript.promptTokenIds,
    outputTokenIds: transcript.outputTokenIds,
    sampling: { temperature: 0.8, topP: 0.95, seed: 11, maxTokens: 40, stop: [] },
    receipt: { receipt: body.verity.receipt, signature: body.verity.signature, signer: body.verity.signer },
  };
  const response = await post(v1.info.url, JSON.stringify(sample));
  const queued = (await response.json()) as { id: string; status: string };
  assert.equal(response.status, 202, JSON.stringify(queued));
  assert.equal(queued.status, "queued");
  const done = await eventually("the audit", async () => {
    const r = (await record(v1.info.url, queued.id)) as { status: string; challenge: unknown };
    return r.status === "queued" ? undefined : r;
  });
  assert.equal(done.status, "passed", JSON.stringify(done));
  assert.equal(done.challenge, null);
  const again = await post(v1.info.url, JSON.stringify(sample));
  assert.equal(again.status, 200);
  assert.deepEqual(await again.json(), done);
  const count = await t.publicClient.readContract({
    address: deployment.contracts.Disputes.address,
    abi: disputesAbi,
    functionName: "disputeCount",
  });
  assert.equal(count, 0n);
  const stats = v1.validator.stats();
  assert.equal(stats.audits.passed, 1);
  assert.equal(stats.compute.intake.tokens, transcript.promptTokenIds.length + transcript.outputTokenIds.length);
  assert.ok(stats.compute.intake.seconds > 0);
  const metrics = await (await fetch(`${v1.info.url}/metrics`)).text();
  assert.match(metrics, /verity_validator_audits_total\{purpose="intake",verdict="pass"\} 1/);
  assert.ok(v1.events.some((e) => e.event === "audit" && e.auditId === queued.id && e.pass === true));
});

test("a seed-synced sample whose reveal opens its commitment, derives its seed and was drawn is audited and passes", async () => {
  const v1 = v[0] as TestValidator;
  const sample = await seededSample();
  const response = await post(v1.info.url, JSON.stringify(sample));
  assert.equal(response.status, 202, JSON.stringify(await response.clone().json()));
  const id = receiptDigest({
    receipt: sample.receipt.receipt,
    chainId: deployment.chainId,
    paymentChannels: deployment.contracts.PaymentChannels.address,
  });
  const judged = await eventually("the seeded audit is judged", async () => {
    const r = (await record(v1.info.url, id)) as { status: string };
    return r.status === "queued" ? undefined : r;
  });
  assert.equal(judged.status, "passed");
});

test("a substituted answer fails, is challenged, and the committee's guilty verdict slashes and refunds", async () => {
  const [v1, ...members] = v as [TestValidator, ...TestValidator[]];
  const read = t.publicClient.readContract;
  const disputes = deployment.contracts.Disputes.address;
  const channel2 = await openTestChannel({
    t,
    deployment,
    payer: "client-2",
    agentId: p.info.agentId,
    modelId,
    amount: 100_000_000n,
  });
  const charge = 5_000n;
  const sample = await signedTestSample({
    engine: substitute,
    providerKey: providerKey(),
    deployment,
    agentId: p.info.agentId,
    channelId: channel2,
    modelId,
    model: "verity-tiny",
    content: "write a short poem about rivers",
    sampling: { temperature: 0.7, topP: 0.9, seed: 21, maxTokens: 48, stop: [] },
    charge,
  });
  // The provider was paid for the answer (a guilty verdict refunds what the channel paid).
  await claimTestChannel({
    t,
    deployment,
    payer: "client-2",
    claimer: "provider-1",
    channelId: channel2,
    amount: charge,
  });
  const balance = (who: `0x${string}`) =>
    read({ address: deployment.token.address, abi: testUSDAbi, functionName: "balanceOf", args: [who] });
  const payer = t.account("client-2").address;
  const payerBefore = await balance(payer);
  const [stakeBefore] = await read({
    address: deployment.contracts.Staking.address,
    abi: stakingAbi,
    functionName: "stakeOf",
    args: [p.info.agentId],
  });

  const response = await post(v1.info.url, JSON.stringify(sample));
  const { id } = (await response.json()) as { id: string };
  assert.equal(response.status, 202);
  const challenged = (await eventually("the challenge", async () => {
    const r = (await record(v1.info.url, id)) as { status: string; challenge: { status: string } | null };
    return r.challenge && r.challenge.status !== "pending" ? r : undefined;
  })) as {
    status: string;
    verdict: { pass: boolean };
    challenge: { status: string; disputeId: string; evidenceHash: `0x${string}` };
  };
  assert.equal(challenged.status, "failed");
  assert.equal(challenged.verdict.pass, false);
  assert.equal(challenged.challenge.status, "opened", JSON.stringify(challenged.challenge));
  const disputeId = BigInt(challenged.challenge.disputeId);

  // The evidence URI serves exactly the bytes the on-chain hash commits to.
  const [opened] = await t.publicClient.getContractEvents({
    address: disputes,
    abi: disputesAbi,
    eventName: "ChallengeOpened",
    args: { disputeId },
    fromBlock: 0n,
  });
  assert.ok(opened);
  assert.equal(opened.args.evidenceURI, `${v1.info.url}/v1/evidence/${opened.args.evidenceHash}`);
  const evidence = await (await fetch(opened.args.evidenceURI as string)).text();
  assert.equal(keccak256(stringToHex(evidence)), opened.args.evidenceHash);
  assert.equal(
    opened.args.receiptHash,
    receiptDigest({
      receipt: sample.receipt.receipt,
      chainId: deployment.chainId,
      paymentChannels: deployment.contracts.PaymentChannels.address,
    }),
  );

  // The challenger draws the committee from the block after its challenge.
  const committee = await eventually("the committee draw", async () => {
    const drawn = await read({ address: disputes, abi: disputesAbi, functionName: "committeeOf", args: [disputeId] });
    return drawn.length > 0 ? drawn : undefined;
  });
  assert.deepEqual(
    new Set(committee.map((a) => a.toLowerCase())),
    new Set(members.map((m) => m.info.address.toLowerCase())),
  );
  const votes = () =>
    Promise.all(
      committee.map((m) => read({ address: disputes, abi: disputesAbi, functionName: "voteOf", args: [disputeId, m] })),
    );
  await eventually("three commitments", async () => (await votes()).every((vote) => vote.committed));
  // Until it is revealed, a member's vote and salt are not shown to anyone.
  const before = (await (await fetch(`${(members[0] as TestValidator).info.url}/v1/disputes`)).json()) as {
    data: { disputeId: string; duty: string; guilty: boolean | null; salt: string | null }[];
  };
  const pending = before.data.find((d) => d.disputeId === disputeId.toString());
  assert.deepEqual(
    { duty: pending?.duty, guilty: pending?.guilty, salt: pending?.salt },
    { duty: "committed", guilty: null, salt: null },
  );
  await t.increaseTime(WINDOW + 1n);
  await eventually("three reveals", async () => (await votes()).every((vote) => vote.revealed));
  assert.ok((await votes()).every((vote) => vote.guilty));
  await t.increaseTime(WINDOW + 1n);
  const resolved = await eventually("the resolution", async () => {
    const d = await read({ address: disputes, abi: disputesAbi, functionName: "getDispute", args: [disputeId] });
    return d.status === 1 ? undefined : d;
  });
  assert.equal(resolved.status, 2, "guilty");

  const [event] = await t.publicClient.getContractEvents({
    address: disputes,
    abi: disputesAbi,
    eventName: "DisputeResolved",
    args: { disputeId },
    fromBlock: 0n,
  });
  assert.ok(event);
  const { refunded, slashed } = event.args as { refunded: bigint; slashed: bigint };
  assert.ok((refunded as bigint) >= charge);
  assert.equal((await balance(payer)) - payerBefore, refunded);
  const [stakeAfter] = await read({
    address: deployment.contracts.Staking.address,
    abi: stakingAbi,
    functionName: "stakeOf",
    args: [p.info.agentId],
  });
  assert.equal(stakeBefore - stakeAfter, slashed);
  assert.ok((slashed as bigint) > 0n);

  const mine = await eventually("the challenger's dispute record", async () => {
    const list = (await (await fetch(`${v1.info.url}/v1/disputes`)).json()) as {
      data: { disputeId: string; role: string; status: string }[];
    };
    const found = list.data.find((d) => d.disputeId === disputeId.toString());
    return found?.status === "guilty" ? found : undefined;
  });
  assert.equal(mine.role, "challenger");
  assert.ok(
    v1.events.some(
      (e) => e.event === "challenge_opened" && e.disputeId === disputeId.toString() && typeof e.txHash === "string",
    ),
  );
  assert.ok(
    v1.events.some((e) => e.event === "dispute_resolved" && e.disputeId === disputeId.toString() && e.guilty === true),
  );
  for (const m of members) {
    await eventually("the member's outcome", () => m.validator.stats().disputes.guilty === 1);
    assert.ok(m.events.some((e) => e.event === "vote_committed" && e.guilty === true));
    assert.ok(m.events.some((e) => e.event === "vote_revealed" && e.guilty === true));
    const stats = m.validator.stats();
    assert.equal(stats.votes.revealed, 1);
    assert.ok(stats.compute.committee.tokens > 0);
  }
});

test("a challenge the chain refuses is recorded with its reason code and not retried", async () => {
  const v4 = v[3] as TestValidator;
  const token = deployment.token.address;
  const wallet = t.wallet("validator-4");
  const held = await t.publicClient.readContract({
    address: token,
    abi: testUSDAbi,
    functionName: "balanceOf",
    args: [v4.info.address],
  });
  const drain = await wallet.writeContract({
    address: token,
    abi: testUSDAbi,
    functionName: "transfer",
    args: [t.account("treasury").address, held],
  });
  await t.publicClient.waitForTransactionReceipt({ hash: drain });
  const channel3 = await openTestChannel({
    t,
    deployment,
    payer: "client-3",
    agentId: p.info.agentId,
    modelId,
    amount: 10_000_000n,
  });
  const sample = await signedTestSample({
    engine: substitute,
    providerKey: providerKey(),
    deployment,
    agentId: p.info.agentId,
    channelId: channel3,
    modelId,
    model: "verity-tiny",
    content: "list three kinds of clouds",
    sampling: { temperature: 0, topP: 1, seed: 3, maxTokens: 32, stop: [] },
    charge: 2_000n,
  });
  const response = await post(v4.info.url, JSON.stringify(sample));
  const { id } = (await response.json()) as { id: string };
  assert.equal(response.status, 202);
  const refused = await eventually("the refused challenge", async () => {
    const r = (await record(v4.info.url, id)) as {
      status: string;
      challenge: { status: string; code: string; attempts: number } | null;
    };
    return r.challenge && r.challenge.status !== "pending" ? r : undefined;
  });
  assert.equal(refused.status, "failed");
  assert.deepEqual(
    { status: refused.challenge?.status, code: refused.challenge?.code, attempts: refused.challenge?.attempts },
    { status: "rejected", code: "insufficient_bond", attempts: 1 },
  );
  assert.ok(v4.events.some((e) => e.event === "challenge_rejected" && e.code === "insufficient_bond"));
  assert.equal(v4.validator.stats().challenges.rejected, 1);
});

test("evidence that does not match its hash gets not-guilty votes, and a member resolves", async () => {
  const read = t.publicClient.readContract;
  const disputes = deployment.contracts.Disputes.address;
  const challenger = "client-4";
  const channel4 = await openTestChannel({
    t,
    deployment,
    payer: challenger,
    agentId: p.info.agentId,
    modelId,
    amount: 10_000_000n,
  });
  // An honest answer, challenged by a client whose evidence URI serves bytes of another hash.
  const sample = await signedTestSample({
    engine: p.engines[0] as Engine,
    providerKey: providerKey(),
    deployment,
    agentId: p.info.agentId,
    channelId: channel4,
    modelId,
    model: "verity-tiny",
    content: "how do tides work",
    sampling: { temperature: 0.7, topP: 0.9, seed: 9, maxTokens: 24, stop: [] },
    charge: 1_500n,
  });
  const [first] = await t.publicClient.getContractEvents({
    address: disputes,
    abi: disputesAbi,
    eventName: "ChallengeOpened",
    args: { disputeId: 1n },
    fromBlock: 0n,
  });
  assert.ok(first);
  const bond = await read({ address: disputes, abi: disputesAbi, functionName: "challengeBond" });
  await mintTestUSD(t, deployment, challenger, bond);
  const wallet = t.wallet(challenger);
  const approve = await wallet.writeContract({
    address: deployment.token.address,
    abi: testUSDAbi,
    functionName: "approve",
    args: [disputes, bond],
  });
  await t.publicClient.waitForTransactionReceipt({ hash: approve });
  const providerBefore = await read({
    address: deployment.token.address,
    abi: testUSDAbi,
    functionName: "balanceOf",
    args: [p.info.address],
  });
  const hash = await wallet.writeContract({
    address: disputes,
    abi: disputesAbi,
    functionName: "challenge",
    args: [
      receiptFromJson(sample.receipt.receipt),
      await channelConfigOf({
        publicClient: t.publicClient,
        paymentChannels: deployment.contracts.PaymentChannels.address,
        channelId: sample.receipt.receipt.channelId as `0x${string}`,
      }),
      sample.receipt.signature as `0x${string}`,
      keccak256(stringToHex("not the evidence")),
      first.args.evidenceURI as string,
    ],
  });
  const opened = await t.publicClient.waitForTransactionReceipt({ hash });
  assert.equal(opened.status, "success");
  const disputeId = await read({ address: disputes, abi: disputesAbi, functionName: "disputeCount" });
  // An outside challenger draws its committee itself, once the seed block is mined.
  await t.testClient.mine({ blocks: 1 });
  const draw = await wallet.writeContract({
    address: disputes,
    abi: disputesAbi,
    functionName: "drawCommittee",
    args: [disputeId],
  });
  assert.equal((await t.publicClient.waitForTransactionReceipt({ hash: draw })).status, "success");
  const committee = await read({ address: disputes, abi: disputesAbi, functionName: "committeeOf", args: [disputeId] });
  const votes = () =>
    Promise.all(
      committee.map((m) => read({ address: disputes, abi: disputesAbi, functionName: "voteOf", args: [disputeId, m] })),
    );
  await eventually("three commitments", async () => (await votes()).every((vote) => vote.committed));
  await t.increaseTime(WINDOW + 1n);
  await eventually("three reveals", async () => (await votes()).every((vote) => vote.revealed));
  assert.ok((await votes()).every((vote) => !vote.guilty));
  // Past the reveal window and the members' grace period: a member resolves (nobody else will).
  await t.increaseTime(WINDOW + 61n);
  const resolved = await eventually("the resolution", async () => {
    const d = await read({ address: disputes, abi: disputesAbi, functionName: "getDispute", args: [disputeId] });
    return d.status === 1 ? undefined : d;
  });
  assert.equal(resolved.status, 3, "not guilty");
  const providerAfter = await read({
    address: deployment.token.address,
    abi: testUSDAbi,
    functionName: "balanceOf",
    args: [p.info.address],
  });
  assert.equal(providerAfter - providerBefore, bond);
  const members = v.filter((m) => committee.some((a) => a.toLowerCase() === m.info.address.toLowerCase()));
  assert.equal(members.length, 3);
  for (const m of members) {
    const list = (await (await fetch(`${m.info.url}/v1/disputes`)).json()) as {
      data: { disputeId: string; guilty: boolean; reason: string }[];
    };
    const mine = list.data.find((d) => d.disputeId === disputeId.toString());
    assert.deepEqual(
      { guilty: mine?.guilty, reason: mine?.reason },
      { guilty: false, reason: "evidence_hash_mismatch" },
    );
  }
  await eventually("every member's record of the outcome", () =>
    members.every((m) =>
      m.events.some(
        (e) => e.event === "dispute_resolved" && e.disputeId === disputeId.toString() && e.guilty === false,
      ),
    ),
  );
});

test("a restarted validator resumes queued work and reuses its agent and bond", async () => {
  const v2 = v[1] as TestValidator;
  const agentCount = () =>
    t.publicClient.readContract({
      address: deployment.contracts.AgentRegistry.address,
      abi: agentRegistryAbi,
      functionName: "agentCount",
    });
  const agentsBefore = await agentCount();
  const revealedBefore = v2.validator.stats().votes.revealed;
  await v2.close({ keepEngines: true });
  // A sample committed to the queue before the stop (as the intake does) and never audited.
  const sample = parseAuditSample(await honestSample({ content: "what the tide leaves behind" }));
  const id = receiptDigest({
    receipt: sample.receipt.receipt,
    chainId: deployment.chainId,
    paymentChannels: deployment.contracts.PaymentChannels.address,
  });
  const db = openDatabase(join(v2.dataDir, "validator.sqlite"));
  createAuditStore(db).enqueue({ id, sample, receivedAt: Date.now() });
  db.close();
  const restarted = await startTestValidator({
    t,
    deployment,
    account: "validator-2",
    engines: v2.engines,
    dataDir: v2.dataDir,
  });
  v[1] = restarted;
  assert.equal(restarted.info.agentId, v2.info.agentId);
  assert.equal(await agentCount(), agentsBefore);
  const done = (await eventually("the resumed audit", async () => {
    const r = (await record(restarted.info.url, id)) as { status: string };
    return r.status === "queued" ? undefined : r;
  })) as { status: string };
  assert.equal(done.status, "passed");
  // Its committee history survived the restart too.
  assert.equal(restarted.validator.stats().votes.revealed, revealedBefore);
});
