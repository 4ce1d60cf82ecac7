/**
 * Deterrence on the devnet, end to end: one client sends the same paid requests to an honest and a
 * cheating provider and has every answer audited; the validators challenge the cheater, the
 * committee convicts it, its stake is slashed and the client is refunded, while the honest provider
 * is never challenged. Chain time is advanced through the devnet's JSON-RPC (evm_increaseTime +
 * evm_mine) once every committee member has acted, so the commit and reveal windows need not pass
 * in wall time.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { devnetAccounts, devnetChain } from "@verity/chain";
import { disputesAbi, stakingAbi, testUSDAbi } from "@verity/contracts";
import { type ChatCompletion, createVerityClient, type VerityClient } from "@verity/sdk";
import type { AuditRecord, DisputeRecord } from "@verity/validator";
import { receiptDigest } from "@verity/validator";
import { createPublicClient, createTestClient, http, type PublicClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { createProgress } from "../progress.ts";
import { createDevnet, type Devnet, type DevnetReady } from "./devnet.ts";

/**
 * Distinct prompts each provider answers once, with the same parameters. The cheater substitutes
 * every answer (cheatRate 1) with the Q4 quantisation of the served weights. Greedy answers
 * (temperature 0) expose it every time: the calibration caught 120 of 120 Q4 greedy transcripts at
 * 32 tokens, with no false positive in 240 honest ones. Sampled answers (the other half) are caught
 * far less often (about a third), so they show that honest sampled traffic passes, not detection.
 */
const PROMPTS = [
  "Explain why the sky is blue.",
  "Write a haiku about payment channels.",
  "List three uses of a hash function.",
  "Describe a lighthouse at night.",
  "What is a validator committee?",
  "Summarise the plot of a heist story.",
  "Give advice to a new gardener.",
  "Tell a short story about a robot and a cat.",
  "Why do bridges have expansion joints?",
  "Describe the taste of fresh bread.",
  "How does a commit-reveal vote work?",
  "Write a limerick about audits.",
] as const;
/** Even-indexed prompts are sent greedy, odd ones with the default sampling. */
const temperatureOf = (index: number) => (index % 2 === 0 ? { temperature: 0 } : {});
const MAX_TOKENS = 48;
/** Upper bound on waiting for each phase; a guard against a hang, not a measurement. */
const PHASE_MS = 300_000;

const accounts = devnetAccounts();
const clientAccount = privateKeyToAccount(accounts.find((a) => a.name === "client-2")?.privateKey as `0x${string}`);
const events: Record<string, unknown>[] = [];
let net: Devnet;
let ready: DevnetReady;
let client: VerityClient;
let chain: PublicClient;
let honest: DevnetReady["providers"][number];
let cheater: DevnetReady["providers"][number];
/** Answers per provider agentId, in the order sent. */
const answers = new Map<string, ChatCompletion[]>();
let balanceBefore: bigint;
let stakesBefore: Map<string, bigint>;

/** Polls `check` until it returns a value, failing after `timeoutMs`. */
async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = PHASE_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  assert.equal(response.status, 200, url);
  return (await response.json()) as T;
}

const disputes = () => ready.deployment.contracts.Disputes.address;

function tokenBalance(address: `0x${string}`): Promise<bigint> {
  return chain.readContract({
    address: ready.deployment.token.address,
    abi: testUSDAbi,
    functionName: "balanceOf",
    args: [address],
  });
}

async function stakeOf(agentId: string): Promise<bigint> {
  const [bonded, unbonding] = await chain.readContract({
    address: ready.deployment.contracts.Staking.address,
    abi: stakingAbi,
    functionName: "stakeOf",
    args: [BigInt(agentId)],
  });
  return bonded + unbonding;
}

/** The audits validator-1 (the client's audit intake) holds. */
async function intakeAudits(): Promise<AuditRecord[]> {
  const validator = ready.validators[0] as DevnetReady["validators"][number];
  return (await getJson<{ data: AuditRecord[] }>(`${validator.url}/v1/audits?limit=1000`)).data;
}

/**
 * Moves every open dispute through its windows: whenever each open dispute's committee has acted
 * in its current window (all committed, or all committed votes revealed), chain time jumps to the
 * nearest window end; a dispute past its reveal window waits for its challenger to resolve it.
 */
async function driveDisputes(): Promise<void> {
  const testClient = createTestClient({ mode: "hardhat", transport: http(ready.rpcUrl) });
  const address = disputes();
  const [commitWindow, revealWindow] = await Promise.all([
    chain.readContract({ address, abi: disputesAbi, functionName: "commitWindow" }),
    chain.readContract({ address, abi: disputesAbi, functionName: "revealWindow" }),
  ]);
  const fromBlock = BigInt(ready.deployment.contracts.Disputes.block);
  await until("every dispute resolved", async () => {
    const opened = await chain.getContractEvents({
      address,
      abi: disputesAbi,
      eventName: "ChallengeOpened",
      fromBlock,
    });
    const now = (await chain.getBlock()).timestamp;
    let open = 0;
    let waiting = false;
    let next: bigint | undefined;
    for (const log of opened) {
      const id = log.args.disputeId as bigint;
      const d = await chain.readContract({ address, abi: disputesAbi, functionName: "getDispute", args: [id] });
      if (d.status !== 1) continue;
      open++;
      if (d.drawnAt === 0) {
        waiting = true; // the challenger draws the committee on its next tick
        continue;
      }
      const committee = await chain.readContract({
        address,
        abi: disputesAbi,
        functionName: "committeeOf",
        args: [id],
      });
      const votes = await Promise.all(
        committee.map((m) => chain.readContract({ address, abi: disputesAbi, functionName: "voteOf", args: [id, m] })),
      );
      const commitEnd = BigInt(d.drawnAt) + commitWindow;
      const revealEnd = commitEnd + revealWindow;
      let end: bigint | undefined;
      if (now <= commitEnd) end = votes.every((v) => v.committed) ? commitEnd + 1n : undefined;
      else if (now <= revealEnd) end = votes.every((v) => !v.committed || v.revealed) ? revealEnd + 1n : undefined;
      if (end === undefined) waiting = true;
      else if (next === undefined || end < next) next = end;
    }
    if (open === 0) return true;
    if (!waiting && next !== undefined) {
      await testClient.mine({ blocks: 1 });
      const head = (await chain.getBlock()).timestamp;
      if (head < next) {
        await testClient.increaseTime({ seconds: Number(next - head) });
        await testClient.mine({ blocks: 1 });
      }
    }
    return false;
  });
}

before(async () => {
  const stateDir = mkdtempSync(join(tmpdir(), "verity-devnet-deterrence-"));
  net = createDevnet({
    port: 0,
    stateDir,
    fresh: true,
    providers: 2,
    cheaters: 1,
    cheatRate: 1,
    auditP: 0,
    canaryIntervalMs: 0,
    progress: createProgress({ quiet: true }),
    onEvent: (event) => events.push(event),
  });
  ready = await net.start();
  chain = createPublicClient({
    chain: devnetChain({ rpcUrl: ready.rpcUrl }),
    transport: http(ready.rpcUrl),
  }) as PublicClient;
  honest = ready.providers.find((p) => !p.cheater) as DevnetReady["providers"][number];
  cheater = ready.providers.find((p) => p.cheater) as DevnetReady["providers"][number];
  const validator = ready.validators[0] as DevnetReady["validators"][number];
  client = createVerityClient({
    rpcUrl: ready.rpcUrl,
    deployment: ready.deployment,
    account: clientAccount,
    stateDir: join(stateDir, "client-2"),
    indexerPollMs: 200,
    audit: { p: 1, validatorUrl: `${validator.url}/v1/audits` },
  });
  await client.start();
});

after(async () => {
  await client?.stop();
  await net?.stop();
});

test("the devnet starts an honest and a cheating provider, four validators and a gateway that audits nothing", () => {
  assert.ok(honest && cheater && honest.agentId !== cheater.agentId);
  assert.ok(ready.validators.length >= 4);
  assert.equal(ready.audit.p, 0);
});

test("the same paid requests to both providers are all audited: only the cheater's fail, and each failure is challenged", async () => {
  for (const provider of [honest, cheater]) {
    await until(`the client's offer of agent ${provider.agentId}`, async () =>
      (await client.offers()).some((o) => o.agentId === BigInt(provider.agentId) && o.healthy),
    );
    await client.openChannel({
      agentId: BigInt(provider.agentId),
      modelId: BigInt(provider.modelId),
      amount: 10_000_000n,
    });
    answers.set(provider.agentId, []);
  }
  balanceBefore = await tokenBalance(clientAccount.address);
  stakesBefore = new Map(
    await Promise.all([honest, cheater].map(async (p) => [p.agentId, await stakeOf(p.agentId)] as const)),
  );
  for (const [index, content] of PROMPTS.entries()) {
    for (const provider of [honest, cheater]) {
      const completion = await client.chat.completions.create(
        {
          model: provider.model,
          messages: [{ role: "user", content }],
          max_tokens: MAX_TOKENS,
          ...temperatureOf(index),
        },
        { agentId: BigInt(provider.agentId) },
      );
      assert.equal(completion.verity.agentId, provider.agentId);
      answers.get(provider.agentId)?.push(completion);
    }
  }
  await client.audits.flush();
  assert.equal((await client.audits.entries("pending")).length, 0, "every sample reached the validator");

  const audits = await until("every sample audited and every failure challenged", async () => {
    const list = await intakeAudits();
    const settled = list.every((a) => a.status !== "queued" && a.challenge?.status !== "pending");
    return list.length === 2 * PROMPTS.length && settled ? list : undefined;
  });
  const of = (agentId: string) => audits.filter((a) => a.agentId === agentId);
  assert.deepEqual(
    of(honest.agentId).map((a) => a.status),
    PROMPTS.map(() => "passed"),
    "every audit of the honest provider passed",
  );
  assert.equal(of(cheater.agentId).length, PROMPTS.length);
  assert.ok(of(cheater.agentId).every((a) => a.status === "passed" || a.status === "failed"));
  const failed = of(cheater.agentId).filter((a) => a.status === "failed");
  const greedy = new Set(
    (answers.get(cheater.agentId) ?? []).filter((_, i) => i % 2 === 0).map((c) => c.verity.requestId.toLowerCase()),
  );
  assert.deepEqual(
    new Set(failed.filter((a) => greedy.has(a.requestId.toLowerCase())).map((a) => a.requestId.toLowerCase())),
    greedy,
    "every greedy substituted answer failed its audit",
  );
  assert.deepEqual(
    failed.map((a) => a.challenge?.status),
    failed.map(() => "opened"),
    "every failed audit became an on-chain challenge",
  );
});

test("the committee convicts the cheater: its stake is slashed and the client is refunded at least what it paid", async (t) => {
  await driveDisputes();
  const address = disputes();
  const fromBlock = BigInt(ready.deployment.contracts.Disputes.block);
  const resolved = await chain.getContractEvents({
    address,
    abi: disputesAbi,
    eventName: "DisputeResolved",
    fromBlock,
  });
  const opened = await chain.getContractEvents({ address, abi: disputesAbi, eventName: "ChallengeOpened", fromBlock });
  assert.equal(resolved.length, opened.length);
  assert.ok(resolved.every((r) => r.args.agentId === BigInt(cheater.agentId)));
  const guilty = resolved.filter((r) => r.args.guilty === true);
  assert.ok(guilty.length > 0, "at least one dispute against the cheater resolved guilty");

  // A verdict pays back at once what the channel has paid; the rest is held until the cheater claims
  // its vouchers (the devnet claimer does within a minute) and the challenger releases it.
  const heldOf = (id: bigint) =>
    chain.readContract({ address, abi: disputesAbi, functionName: "heldRefundOf", args: [id] });
  await until("every held refund released", async () => {
    for (const r of guilty) if ((await heldOf(r.args.disputeId as bigint)) !== 0n) return false;
    return true;
  });
  const releases = await chain.getContractEvents({ address, abi: disputesAbi, eventName: "RefundReleased", fromBlock });
  const releasedOf = (id: bigint) =>
    releases.filter((e) => e.args.disputeId === id).reduce((sum, e) => sum + (e.args.toPayer as bigint), 0n);

  // Each challenged answer is one the client paid the cheater for; its refund covers at least that charge.
  const charges = new Map(
    (answers.get(cheater.agentId) ?? []).map((c) => [
      receiptDigest({
        receipt: c.verity.receipt,
        chainId: ready.chainId,
        paymentChannels: ready.deployment.contracts.PaymentChannels.address,
      }).toLowerCase(),
      BigInt(c.verity.charge),
    ]),
  );
  let refunded = 0n;
  let slashed = 0n;
  for (const r of guilty) {
    const id = r.args.disputeId as bigint;
    const d = await chain.readContract({ address, abi: disputesAbi, functionName: "getDispute", args: [id] });
    assert.equal(d.payer.toLowerCase(), clientAccount.address.toLowerCase());
    assert.equal(
      charges.get(d.receiptHash.toLowerCase()),
      d.charge,
      "the dispute is about one of the client's answers",
    );
    const due = await chain.readContract({
      address,
      abi: disputesAbi,
      functionName: "refundDue",
      args: [id],
      blockNumber: (r.blockNumber as bigint) - 1n,
    });
    const cut = r.args.slashed as bigint;
    const now = r.args.refunded as bigint;
    assert.ok(now <= (cut < due ? cut : due), "paid at once: at most what the channel had paid, up to the slash");
    const total = now + releasedOf(id);
    if (cut > 0n) assert.ok(total >= d.charge, "refunded net: at least the challenged charge");
    refunded += total;
    slashed += cut;
  }
  assert.ok(slashed > 0n && refunded > 0n);
  t.diagnostic(
    `disputes ${resolved.length}, guilty ${guilty.length}, slashed ${slashed}, refunded ${refunded}, ` +
      `charged by the cheater ${(answers.get(cheater.agentId) ?? []).reduce((sum, c) => sum + BigInt(c.verity.charge), 0n)}`,
  );
  assert.equal(
    stakesBefore.get(cheater.agentId) ?? 0n,
    (await stakeOf(cheater.agentId)) + slashed,
    "the stake fell by the slash",
  );
  assert.equal((await tokenBalance(clientAccount.address)) - balanceBefore, refunded, "the refunds reached client-2");
  assert.equal(
    await chain.readContract({
      address: ready.deployment.contracts.Staking.address,
      abi: stakingAbi,
      functionName: "offersPaused",
      args: [BigInt(cheater.agentId)],
    }),
    true,
  );
  assert.ok(events.some((e) => e.event === "challenge_opened" && e.agentId === cheater.agentId));
  assert.ok(events.some((e) => e.event === "dispute_resolved" && e.guilty === true));
});

test("the honest provider under the same traffic is never challenged", async () => {
  const address = disputes();
  const fromBlock = BigInt(ready.deployment.contracts.Disputes.block);
  const opened = await chain.getContractEvents({ address, abi: disputesAbi, eventName: "ChallengeOpened", fromBlock });
  assert.ok(opened.every((o) => o.args.agentId !== BigInt(honest.agentId)));
  assert.equal(
    await chain.readContract({
      address,
      abi: disputesAbi,
      functionName: "openChallenges",
      args: [BigInt(honest.agentId)],
    }),
    0n,
  );
  for (const validator of ready.validators) {
    const { data } = await getJson<{ data: DisputeRecord[] }>(`${validator.url}/v1/disputes?limit=1000`);
    assert.ok(
      data.every((d) => d.agentId !== honest.agentId),
      `${validator.name} knows no dispute against the honest provider`,
    );
  }
  const honestAudits = (await intakeAudits()).filter((a) => a.agentId === honest.agentId);
  assert.equal(honestAudits.length, PROMPTS.length);
  assert.ok(honestAudits.every((a) => a.status === "passed" && a.challenge === null));
  assert.ok(!events.some((e) => e.event === "audit" && e.agentId === honest.agentId && e.pass !== true));
  assert.ok(!events.some((e) => e.event === "challenge_opened" && e.agentId === honest.agentId));
  assert.equal(await stakeOf(honest.agentId), stakesBefore.get(honest.agentId));
});
