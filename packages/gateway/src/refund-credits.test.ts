import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { deploy } from "@verity/chain";
import { channelConfigOf, createTestChain, type TestChain } from "@verity/chain/testing";
import { disputesAbi, testUSDAbi } from "@verity/contracts";
import { type Deployment, receiptFromJson } from "@verity/core";
import { x402Client } from "@x402/core/client";
import { toClientEvmSigner } from "@x402/evm";
import { ExactEvmScheme } from "@x402/evm/exact/client";
import { wrapFetchWithPayment } from "@x402/fetch";
import { keccak256, stringToHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import { eventually, startTestValidator, type TestValidator } from "../../validator/src/testing.ts";
import { createGateway, type Gateway } from "./gateway.ts";
import type { RefundCredit } from "./refund-credits.ts";
import { defaultRoutingPolicy } from "./routing-policy.ts";
import { gatewayStateDir } from "./store/store-testing.ts";
import { fundedKey } from "./testing.ts";

// Long enough that the real time the test spends before advancing the chain never closes a reveal window early.
const WINDOW = 3600n;
let t: TestChain;
let deployment: Deployment;
let cheater: TestProvider;
let honest: TestProvider;
const validators: TestValidator[] = [];
let gateway: Gateway;
let url: string;
let apiKey: string;
let stateDir: string;
/** The provider the gateway routes to (the test picks who serves each request). */
let serveWith: bigint;
const refunds: RefundCredit[] = [];

function startGateway(): Gateway {
  return createGateway({
    allowPrivateEndpoints: true,
    deployment,
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account("gateway").privateKey),
    stateDir,
    indexerPollMs: 50,
    probeIntervalMs: 200,
    audit: { p: 1, validatorUrl: `${(validators[0] as TestValidator).info.url}/v1/audits` },
    policy: (offers, request, random) =>
      defaultRoutingPolicy(
        offers.filter((o) => o.agentId === serveWith),
        request,
        random,
      ),
    onRefund: (r) => refunds.push(r),
  });
}

const balanceOf = async (key: string) =>
  BigInt(
    (
      (await (await fetch(`${url}/v1/balance`, { headers: { authorization: `Bearer ${key}` } })).json()) as {
        balance: string;
      }
    ).balance,
  );

before(async () => {
  t = await createTestChain();
  deployment = await deploy({
    provider: t.edr.provider,
    deployer: t.account("deployer").privateKey,
    params: { committeeSize: 1, commitWindow: WINDOW, revealWindow: WINDOW },
  });
  cheater = await startTestProvider({
    t,
    deployment,
    account: "provider-1",
    substitute: { model: "verity-tiny-sub", rate: 1 },
  });
  honest = await startTestProvider({ t, deployment, account: "provider-2" });
  // validator-1 receives the gateway's audit samples and challenges; validator-2 is the committee.
  for (const account of ["validator-1", "validator-2"]) {
    validators.push(await startTestValidator({ t, deployment, account }));
  }
  await mintTestUSD(t, deployment, "gateway", 100_000_000n);
  stateDir = await gatewayStateDir("verity-gateway-refunds-");
  gateway = startGateway();
  url = (await gateway.start()).url;
  const created = await fundedKey({ t, deployment, url, account: "client-1", amount: 5_000_000n });
  apiKey = created.key;
});

after(async () => {
  await gateway?.stop();
  for (const v of validators) await v.close();
  await cheater?.close();
  await honest?.close();
  await t?.close();
});

const chat = (content: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: "verity-tiny", messages: [{ role: "user", content }], max_tokens: 12, ...extra });

async function streamedCharge(response: Response): Promise<bigint> {
  let charged = 0n;
  for (const line of (await response.text()).split("\n")) {
    if (!line.startsWith("data: {")) continue;
    const v = (JSON.parse(line.slice(6)) as { verity?: { gateway?: { charged: string } } }).verity;
    if (v?.gateway) charged = BigInt(v.gateway.charged);
  }
  return charged;
}

test("a guilty verdict on a request the gateway paid refunds its customer once; honest and not-guilty ones change nothing", async () => {
  const read = t.publicClient.readContract;
  const disputes = deployment.contracts.Disputes.address;
  const keyed = { "content-type": "application/json", authorization: `Bearer ${apiKey}` };

  // 1. An honest answer for the API-key customer.
  serveWith = honest.info.agentId;
  const honestResponse = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: keyed,
    body: chat("what is a harbour"),
  });
  assert.equal(honestResponse.status, 200, await honestResponse.clone().text());
  const honestBody = (await honestResponse.json()) as { verity: { requestId: string; gateway: { charged: string } } };

  // 2. The cheater serves the same customer (streamed) and a keyless x402 payer.
  serveWith = cheater.info.agentId;
  const cheatResponse = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: keyed,
    body: chat("write a line about rivers", { stream: true }),
  });
  assert.equal(cheatResponse.status, 200);
  const keyCharged = await streamedCharge(cheatResponse);
  assert.ok(keyCharged > 0n);
  await mintTestUSD(t, deployment, "client-2", 5_000_000n);
  const x402 = new x402Client()
    .register(
      `eip155:${t.chain.id}`,
      new ExactEvmScheme(toClientEvmSigner(privateKeyToAccount(t.account("client-2").privateKey))),
    )
    .setSpendControls({
      allowedAssets: [
        { network: `eip155:${t.chain.id}`, asset: deployment.token.address, maxAmountPerPayment: "1000000" },
      ],
    });
  const paid = await wrapFetchWithPayment(fetch, x402)(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: chat("describe the sea at night"),
  });
  assert.equal(paid.status, 200, await paid.clone().text());
  const x402Body = (await paid.json()) as { verity: { requestId: string; gateway: { charged: string } } };
  const balanceBefore = await balanceOf(apiKey);

  // 3. The gateway's audits: the honest answer passes, both substituted answers are challenged.
  const transcripts = await (gateway.client as NonNullable<Gateway["client"]>).transcripts();
  const cheats = transcripts.filter((tr) => tr.agentId === cheater.info.agentId).map((tr) => tr.requestId);
  assert.equal(cheats.length, 2);
  const opened = await eventually(
    "both challenges",
    async () => {
      const events = await t.publicClient.getContractEvents({
        address: disputes,
        abi: disputesAbi,
        eventName: "ChallengeOpened",
        fromBlock: 0n,
      });
      const mine = events.filter((e) => cheats.includes(e.args.requestId as `0x${string}`));
      return mine.length === 2 ? mine : undefined;
    },
    { timeoutMs: 120_000 },
  );
  await eventually("the honest audit", () => (validators[0] as TestValidator).validator.stats().audits.passed === 1, {
    timeoutMs: 120_000,
  });
  const byRequest = new Map(opened.map((e) => [e.args.requestId as string, e.args.disputeId as bigint]));
  const keyDispute = byRequest.get(cheats.find((id) => id !== x402Body.verity.requestId) as string) as bigint;
  const x402Dispute = byRequest.get(x402Body.verity.requestId) as bigint;

  // 4. A challenge of the honest answer with evidence that does not match its hash: not guilty.
  const honestTranscript = transcripts.find((tr) => tr.requestId === honestBody.verity.requestId);
  assert.ok(honestTranscript);
  const bond = await read({ address: disputes, abi: disputesAbi, functionName: "challengeBond" });
  await mintTestUSD(t, deployment, "client-4", bond);
  const approve = await t.wallet("client-4").writeContract({
    address: deployment.token.address,
    abi: testUSDAbi,
    functionName: "approve",
    args: [disputes, bond],
  });
  await t.publicClient.waitForTransactionReceipt({ hash: approve });
  const challenge = await t.wallet("client-4").writeContract({
    address: disputes,
    abi: disputesAbi,
    functionName: "challenge",
    args: [
      receiptFromJson(honestTranscript.receipt.receipt),
      await channelConfigOf({
        publicClient: t.publicClient,
        paymentChannels: deployment.contracts.PaymentChannels.address,
        channelId: honestTranscript.receipt.receipt.channelId as `0x${string}`,
      }),
      honestTranscript.receipt.signature as `0x${string}`,
      keccak256(stringToHex("not the evidence")),
      (opened[0] as (typeof opened)[number]).args.evidenceURI as string,
    ],
  });
  assert.equal((await t.publicClient.waitForTransactionReceipt({ hash: challenge })).status, "success");
  const honestDispute = await read({ address: disputes, abi: disputesAbi, functionName: "disputeCount" });
  // The committee comes from the hash of the block after the challenge: mine it, then draw.
  await t.edr.provider.request({ method: "evm_mine" } as never);
  const draw = await t.wallet("client-4").writeContract({
    address: disputes,
    abi: disputesAbi,
    functionName: "drawCommittee",
    args: [honestDispute],
  });
  assert.equal((await t.publicClient.waitForTransactionReceipt({ hash: draw })).status, "success");

  // 5. Commit, reveal, resolve (the validators act; the test only moves chain time).
  const all = [keyDispute, x402Dispute, honestDispute];
  const votes = async () =>
    (
      await Promise.all(
        all.map(async (id) => {
          const committee = await read({
            address: disputes,
            abi: disputesAbi,
            functionName: "committeeOf",
            args: [id],
          });
          return Promise.all(
            committee.map((m) => read({ address: disputes, abi: disputesAbi, functionName: "voteOf", args: [id, m] })),
          );
        }),
      )
    ).flat();
  await eventually("every commitment", async () => (await votes()).every((v) => v.committed), { timeoutMs: 120_000 });
  await t.increaseTime(WINDOW + 1n);
  await eventually("every reveal", async () => (await votes()).every((v) => v.revealed), { timeoutMs: 120_000 });
  await t.increaseTime(WINDOW + 1n);
  const statuses = await eventually(
    "every resolution",
    async () => {
      const ds = await Promise.all(
        all.map((id) => read({ address: disputes, abi: disputesAbi, functionName: "getDispute", args: [id] })),
      );
      return ds.every((d) => d.status !== 1) ? ds.map((d) => d.status) : undefined;
    },
    { timeoutMs: 120_000 },
  );
  assert.deepEqual(statuses, [2, 2, 3], "guilty, guilty, not guilty");

  // 6. The key's customer gets what it was billed for the cheated request (fee included), once.
  await eventually("both refunds passed on", () => refunds.length === 2, { timeoutMs: 60_000 });
  const keyRefund = refunds.find((r) => r.disputeId === keyDispute.toString());
  const x402Refund = refunds.find((r) => r.disputeId === x402Dispute.toString());
  assert.equal(keyRefund?.status, "credited");
  assert.equal(keyRefund?.amount, keyCharged);
  // On chain the refund is capped by what the channel has paid; the unpaid part is held until the
  // provider claims (Disputes.releaseRefund). The gateway credits its customer at the verdict all the same.
  assert.ok((keyRefund?.refunded ?? -1n) >= 0n);
  assert.equal((await balanceOf(apiKey)) - balanceBefore, keyCharged);
  const listed = (await (await fetch(`${url}/v1/refunds`, { headers: keyed })).json()) as {
    data: { disputeId: string; amount: string; status: string }[];
    ledger: { delta: string; reason: string; ref: string }[];
  };
  assert.deepEqual(
    listed.data.map((r) => [r.disputeId, r.amount, r.status]),
    [[keyDispute.toString(), keyCharged.toString(), "credited"]],
  );
  assert.deepEqual(
    listed.ledger.map((e) => [e.delta, e.reason, e.ref]),
    [[keyCharged.toString(), "refund", keyDispute.toString()]],
  );

  // The x402 payer is owed what it paid; the not-guilty dispute on the honest answer credits nothing.
  assert.equal(x402Refund?.status, "owed");
  assert.equal(x402Refund?.amount, BigInt(x402Body.verity.gateway.charged));
  const owed = (await (await fetch(`${url}/v1/refunds?payer=${t.account("client-2").address}`)).json()) as {
    owed: string;
    data: { disputeId: string }[];
  };
  assert.equal(owed.owed, x402Body.verity.gateway.charged);
  assert.deepEqual(
    owed.data.map((r) => r.disputeId),
    [x402Dispute.toString()],
  );
  assert.ok(!refunds.some((r) => r.disputeId === honestDispute.toString()));

  // 7. A restart that replays every chain event from scratch credits nothing again.
  const settled = await balanceOf(apiKey);
  await gateway.stop();
  for (const file of ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"]) {
    rmSync(join(stateDir, file), { force: true });
  }
  gateway = startGateway();
  url = (await gateway.start()).url;
  assert.equal(await balanceOf(apiKey), settled);
  assert.equal(refunds.length, 2);
  const again = (await (await fetch(`${url}/v1/refunds`, { headers: keyed })).json()) as { data: unknown[] };
  assert.equal(again.data.length, 1);
});
