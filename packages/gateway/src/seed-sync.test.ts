/**
 * Seed-synced sampling end to end: the official openai client with a gateway API key; the gateway
 * pays a real provider through the SDK, which sends the seed key derived from the voucher and its
 * audit commitment; the provider signs both into the receipt's params; every answer at or above the
 * gateway's `alwaysAuditAbove` is audited, and a real validator's intake checks the revealed secret
 * (commitment, derivation, selection) and audits the answer.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { deploy, type Listening, listen } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import { auditCommitOf, type Deployment, deriveSeedKey, hashParams, type SignedReceiptJson } from "@verity/core";
import type { AuditSample } from "@verity/sdk";
import { Hono } from "hono";
import OpenAI from "openai";
import { privateKeyToAccount } from "viem/accounts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import { receiptDigest } from "../../validator/src/evidence.ts";
import { eventually, startTestValidator, type TestValidator } from "../../validator/src/testing.ts";
import { createGateway, type Gateway } from "./gateway.ts";
import { gatewayStateDir } from "./store/store-testing.ts";
import { fundedKey } from "./testing.ts";

let t: TestChain;
let deployment: Deployment;
let provider: TestProvider;
let validator: TestValidator;
let intake: Listening;
let gateway: Gateway;
let url: string;
let apiKey: string;
/** What the gateway posted for audit, with the validator's answer status. */
const posted: { sample: AuditSample; status: number }[] = [];

before(async () => {
  t = await createTestChain();
  deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  provider = await startTestProvider({ t, deployment, account: "provider-1" });
  validator = await startTestValidator({ t, deployment, account: "validator-1" });
  // Records each sample on its way to the real validator's intake.
  const app = new Hono();
  app.post("/v1/audits", async (c) => {
    const body = await c.req.text();
    const response = await fetch(`${validator.info.url}/v1/audits`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    posted.push({ sample: JSON.parse(body) as AuditSample, status: response.status });
    return new Response(response.body, { status: response.status, headers: response.headers });
  });
  intake = await listen({ fetch: app.fetch });
  await mintTestUSD(t, deployment, "gateway", 100_000_000n);
  gateway = createGateway({
    allowPrivateEndpoints: true,
    deployment,
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account("gateway").privateKey),
    stateDir: await gatewayStateDir("verity-gateway-seed-"),
    indexerPollMs: 50,
    probeIntervalMs: 200,
    // pBase 0: only the value rule selects, and every answer charging ≥ 1 base unit is audited.
    audit: { p: 0, alwaysAuditAbove: 1n, validatorUrl: `${intake.url}/v1/audits` },
  });
  url = (await gateway.start()).url;
  apiKey = (await fundedKey({ t, deployment, url, account: "client-1", amount: 5_000_000n })).key;
});

after(async () => {
  await gateway?.stop();
  await intake?.close();
  await validator?.close();
  await provider?.close();
  await t?.close();
});

test("the official openai client through the gateway: the receipt carries the derived seed key, and the validator accepts the audit", async () => {
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 });
  const completion = await client.chat.completions.create({
    model: "verity-tiny",
    messages: [{ role: "user", content: "Name a colour." }],
    max_tokens: 12,
    temperature: 0.8,
    seed: 3,
  });
  const verity = (completion as unknown as { verity: SignedReceiptJson & { requestId: string } }).verity;
  assert.ok(verity.receipt && BigInt(verity.receipt.charge) > 0n);
  const audit = await eventually("the gateway posts the audit", () =>
    posted.find((p) => p.sample.receipt.receipt.requestId === verity.receipt.requestId),
  );
  assert.equal(audit.status, 202, "the validator's intake accepts the sample");
  const { sample } = audit;
  const sampling = sample.sampling;
  assert.ok(sampling?.seedKey && sampling.auditCommit && sample.reveal);
  // The params the receipt signs (its paramsHash) include the seed key and the commitment.
  assert.equal(hashParams(sampling), verity.receipt.paramsHash);
  assert.equal(auditCommitOf(sample.reveal.auditSecret), sampling.auditCommit);
  assert.equal(
    deriveSeedKey({
      chainId: deployment.chainId,
      channelId: verity.receipt.channelId,
      voucherAmount: BigInt(sample.reveal.voucherAmount),
      auditSecret: sample.reveal.auditSecret,
    }),
    sampling.seedKey,
  );
  assert.deepEqual(sample.reveal.policy, { pBase: 0, alwaysAuditAbove: "1" });
  // The audit runs and the honest answer passes.
  const id = receiptDigest({
    receipt: sample.receipt.receipt,
    chainId: deployment.chainId,
    paymentChannels: deployment.contracts.PaymentChannels.address,
  });
  const record = await eventually("the audit is judged", async () => {
    const r = (await (await fetch(`${validator.info.url}/v1/audits/${id}`)).json()) as { status: string };
    return r.status === "passed" || r.status === "failed" || r.status === "error" ? r : undefined;
  });
  assert.equal(record.status, "passed");
});
