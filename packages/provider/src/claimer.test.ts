/**
 * The claimer on a real chain with the real provider store and channel mirror: a batch with one
 * badly signed voucher pays the others, the bad one is recorded with its reason and not retried
 * until a new voucher arrives, a deposit-capped claim keeps the rest owed until a top-up, and the
 * provider's credited earnings are withdrawn by threshold, interval and on stop.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type ChainClients, connectChain, createIndexer, deploy, type Indexer } from "@verity/chain";
import { channelConfigOf, channelViewOf, createTestChain, type TestChain } from "@verity/chain/testing";
import { agentRegistryAbi, modelRegistryAbi, paymentChannelsAbi } from "@verity/contracts";
import { type Deployment, voucherDomain, voucherTypes } from "@verity/core";
import { erc20Abi, keccak256, parseEventLogs, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { type ChannelMirror, createChannelMirror } from "./channel-mirror.ts";
import { type Claimer, createClaimer, type SkippedClaim } from "./claimer.ts";
import { createEarningsWithdrawer, type WithdrawReport } from "./earnings-withdrawer.ts";
import { createProviderStore, type ProviderStore } from "./store.ts";
import { mintTestUSD, openTestChannel } from "./testing.ts";

let t: TestChain;
let deployment: Deployment;
let clients: ChainClients;
let indexer: Indexer;
let mirror: ChannelMirror;
let store: ProviderStore;
let claimer: Claimer;
let agentId: bigint;
let modelId: bigint;
let requests = 0;
const skipLog: SkippedClaim[] = [];

before(async () => {
  t = await createTestChain();
  deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  clients = await connectChain({
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account("provider-1").privateKey),
    expectedChainId: deployment.chainId,
  });
  const registered = await mined(
    t.wallet("provider-1").writeContract({
      address: deployment.contracts.AgentRegistry.address,
      abi: agentRegistryAbi,
      functionName: "register",
      args: ["https://p1.example/agent.json"],
    }),
  );
  agentId = parseEventLogs({ abi: agentRegistryAbi, logs: registered.logs, eventName: "Registered" })[0]!.args.agentId;
  await mined(
    t.wallet("modelOwner").writeContract({
      address: deployment.contracts.ModelRegistry.address,
      abi: modelRegistryAbi,
      functionName: "registerModel",
      args: [keccak256(toHex("weights")), keccak256(toHex("tokenizer")), 500, "https://example.org/l", "m"],
    }),
  );
  modelId = await t.publicClient.readContract({
    address: deployment.contracts.ModelRegistry.address,
    abi: modelRegistryAbi,
    functionName: "modelIdOf",
    args: [keccak256(toHex("weights")), keccak256(toHex("tokenizer"))],
  });
  const dir = mkdtempSync(join(tmpdir(), "verity-claimer-"));
  indexer = createIndexer({ deployment, publicClient: clients.publicClient, db: join(dir, "index.sqlite") });
  mirror = createChannelMirror({ indexer, agentId });
  store = createProviderStore({ path: join(dir, "provider.sqlite") });
  claimer = createClaimer({
    store,
    clients,
    paymentChannels: deployment.contracts.PaymentChannels.address,
    mirror,
    onSkip: (skip) => skipLog.push(skip),
  });
});
after(async () => {
  await claimer.stop();
  mirror.close();
  store.close();
  await t.close();
});

async function mined(hash: Promise<`0x${string}`>) {
  const receipt = await t.publicClient.waitForTransactionReceipt({ hash: await hash });
  assert.equal(receipt.status, "success");
  return receipt;
}

function open(payer: string, amount: bigint): Promise<`0x${string}`> {
  return openTestChannel({ t, deployment, payer, agentId, modelId, amount, salt: `claimer-${payer}-${requests++}` });
}

/** Persists a served request on `channelId` as the payment path does: its charge and the voucher it came with. */
async function serve(
  channelId: `0x${string}`,
  signer: string,
  charge: bigint,
  headroom = 1_000n,
  flipV = false,
): Promise<void> {
  const charged = store.channel(channelId).charged + charge;
  const voucherAmount = charged + headroom;
  const voucherSignature = await privateKeyToAccount(t.account(signer).privateKey).signTypedData({
    domain: voucherDomain({
      chainId: deployment.chainId,
      verifyingContract: deployment.contracts.PaymentChannels.address,
    }),
    types: voucherTypes,
    primaryType: "Voucher",
    message: { channelId, cumulativeAmount: voucherAmount },
  });
  // The payment gate judges (r, s) against the authorizer's known key, not v: such a voucher is served.
  const v = voucherSignature.slice(130) === "1b" ? "1c" : "1b";
  const stored = flipV ? (`${voucherSignature.slice(0, 130)}${v}` as `0x${string}`) : voucherSignature;
  await store.recordCompletion({
    requestId: keccak256(toHex(`request-${requests++}`)),
    channelId,
    model: "m",
    voucherAmount,
    voucherSignature: stored,
    promptTokens: 10,
    completionTokens: 10,
    charge,
    cumulativeCharged: charged,
    receipt: "{}",
    signature: "0x",
    createdAt: Date.now(),
  });
}

const onChainClaimed = async (channelId: `0x${string}`) =>
  (
    await channelViewOf({
      publicClient: t.publicClient,
      paymentChannels: deployment.contracts.PaymentChannels.address,
      channelId: channelId,
    })
  ).claimed;
const claimTransactions = () => (store.db.prepare("SELECT COUNT(*) AS n FROM claims").get() as { n: number }).n;

test("a badly signed voucher is skipped with its reason, the rest are settled, and it is retried only with a new voucher", async () => {
  const [a, b, c] = [
    await open("client-1", 100_000n),
    await open("client-2", 100_000n),
    await open("client-3", 100_000n),
  ];
  await serve(a, "client-1", 5_000n);
  await serve(b, "validator-1", 7_000n); // not client-2's key: the contract skips it
  await serve(c, "client-3", 9_000n);
  await indexer.syncOnce();

  const report = await claimer.claimNow(true);
  assert.ok(report);
  assert.equal(report.channels, 2);
  assert.equal(report.amount, 14_000n);
  assert.deepEqual(report.skipped, [{ channelId: b, reason: "voucher_signature_invalid" }]);
  assert.deepEqual(await Promise.all([a, b, c].map(onChainClaimed)), [5_000n, 0n, 9_000n]);
  assert.deepEqual(
    [a, b, c].map((id) => store.channel(id).claimed),
    [5_000n, 0n, 9_000n],
  );
  // b still owes its charges, and the skip names why.
  assert.equal(store.channel(b).charged, 7_000n);
  assert.equal(store.skips().get(b)?.reason, "voucher_signature_invalid");

  // The same voucher is not sent again.
  await indexer.syncOnce();
  const sent = claimTransactions();
  assert.equal(await claimer.claimNow(true), undefined);
  assert.equal(claimTransactions(), sent);
  assert.deepEqual(skipLog, [{ channelId: b, reason: "voucher_signature_invalid" }], "logged once");

  // The payer's next request carries a correctly signed voucher: b settles everything it owes.
  await serve(b, "client-2", 1_000n);
  const retried = await claimer.claimNow(true);
  assert.deepEqual([retried?.channels, retried?.amount, retried?.skipped], [1, 8_000n, []]);
  assert.equal(await onChainClaimed(b), 8_000n);
  assert.equal(store.channel(b).claimed, 8_000n);
  assert.equal(store.skips().has(b), false);
});

test("a voucher served with its v flipped is claimed with the v ecrecover maps to the authorizer", async () => {
  const channel = await open("client-4", 100_000n);
  await serve(channel, "client-4", 3_000n, 1_000n, true);
  await indexer.syncOnce();
  const report = await claimer.claimNow(true);
  assert.deepEqual([report?.channels, report?.amount, report?.skipped], [1, 3_000n, []]);
  assert.equal(await onChainClaimed(channel), 3_000n);
});

test("a claim capped by the deposit keeps the rest owed; the empty retry is recorded once and paid after a top-up", async () => {
  const d = await open("client-1", 3_000n);
  await serve(d, "client-1", 5_000n);
  await indexer.syncOnce();
  const first = await claimer.claimNow(true);
  assert.deepEqual([first?.channels, first?.amount], [1, 3_000n]);
  // Only the deposit was paid: the store records what the chain paid, not what was asked.
  assert.equal(store.channel(d).claimed, 3_000n);
  assert.equal(store.channel(d).charged, 5_000n);

  // A claim of it alone reverts NothingToClaim: recorded as a skip, and not sent again.
  await indexer.syncOnce();
  const sent = claimTransactions();
  assert.equal(await claimer.claimNow(true), undefined);
  assert.equal(store.skips().get(d)?.reason, "nothing_to_claim");
  assert.equal(claimTransactions(), sent + 1);
  assert.equal(await claimer.claimNow(true), undefined);
  assert.equal(claimTransactions(), sent + 1);

  // The payer tops up: the same voucher now pays the remaining 2,000.
  await mintTestUSD(t, deployment, "client-1", 10_000n);
  await mined(
    t.wallet("client-1").writeContract({
      address: deployment.contracts.PaymentChannels.address,
      abi: paymentChannelsAbi,
      functionName: "topUp",
      args: [
        await channelConfigOf({
          publicClient: t.publicClient,
          paymentChannels: deployment.contracts.PaymentChannels.address,
          channelId: d,
        }),
        10_000n,
      ],
    }),
  );
  await indexer.syncOnce();
  const paid = await claimer.claimNow(true);
  assert.deepEqual([paid?.channels, paid?.amount], [1, 2_000n]);
  assert.equal(await onChainClaimed(d), 5_000n);
  assert.equal(store.channel(d).claimed, 5_000n);
});

test("claims only credit the provider; its earnings are withdrawn at the threshold, after the interval, and on stop", async () => {
  const balanceOf = (who: `0x${string}`) =>
    t.publicClient.readContract({
      address: deployment.token.address,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [who],
    });
  const wallet = t.account("provider-1").address;
  let clock = 1_000_000;
  const withdrawals: WithdrawReport[] = [];
  const payer = createClaimer({
    store,
    clients,
    paymentChannels: deployment.contracts.PaymentChannels.address,
    mirror,
    agentId,
    payout: { minAmount: 50_000n, maxIntervalMs: 60_000 },
    now: () => clock,
    onWithdraw: (report) => withdrawals.push(report),
  });
  // A second sender, as a second process would be: an operator the agent owner approved.
  await mined(
    t.wallet("provider-1").writeContract({
      address: deployment.contracts.AgentRegistry.address,
      abi: agentRegistryAbi,
      functionName: "setApprovalForAll",
      args: [t.account("gateway").address, true],
    }),
  );
  const operator = await connectChain({
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account("gateway").privateKey),
    expectedChainId: deployment.chainId,
  });
  const withdrawer = createEarningsWithdrawer({
    clients: operator,
    paymentChannels: deployment.contracts.PaymentChannels.address,
    agentId,
    policy: { minAmount: 50_000n, maxIntervalMs: 60_000 },
    now: () => clock,
    onWithdraw: (report) => withdrawals.push(report),
  });
  // Whatever earlier tests credited is paid first, so the rest starts from nothing.
  await payer.withdrawNow();
  assert.equal(await payer.earnings(), 0n);
  assert.equal(await payer.withdrawNow(), undefined, "nothing credited: nothing is sent");
  withdrawals.length = 0;

  const channel = await open("client-2", 200_000n);
  await serve(channel, "client-2", 10_000n);
  await indexer.syncOnce();
  const before = await balanceOf(wallet);
  assert.equal((await payer.claimNow(true))?.amount, 10_000n);
  // 10,000 minus the 1% fee and the 5% royalty is credited; no token moved.
  assert.equal(await payer.earnings(), 9_400n);
  assert.equal(await balanceOf(wallet), before);
  // Below the threshold and within the interval: not due.
  assert.equal(await withdrawer.withdrawIfDue(), undefined);
  // Past the interval it is due, whatever the amount.
  clock += 60_000;
  const late = await withdrawer.withdrawIfDue();
  assert.deepEqual([late?.amount, late?.to], [9_400n, wallet]);
  assert.equal(await balanceOf(wallet), before + 9_400n);
  // At the threshold it is due at once.
  await serve(channel, "client-2", 60_000n);
  await indexer.syncOnce();
  await payer.claimNow(true);
  assert.equal((await withdrawer.withdrawIfDue())?.amount, 56_400n);
  // Two senders at once: one pays, the other finds nothing (no error), however they interleave.
  await serve(channel, "client-2", 1_000n);
  await indexer.syncOnce();
  await payer.claimNow(true);
  const raced = await Promise.all([withdrawer.withdrawNow(), payer.withdrawNow()]);
  assert.deepEqual(raced.map((r) => r?.amount).sort(), [940n, undefined]);
  // stop() withdraws what is left.
  await serve(channel, "client-2", 2_000n);
  await indexer.syncOnce();
  await payer.claimNow(true);
  await payer.stop();
  assert.equal(await payer.earnings(), 0n);
  assert.equal(await balanceOf(wallet), before + 9_400n + 56_400n + 940n + 1_880n);
  assert.deepEqual(
    withdrawals.map((w) => w.amount),
    [9_400n, 56_400n, 940n, 1_880n],
  );
});
