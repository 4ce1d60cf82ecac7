/**
 * Spend mandates end to end: a client paying real providers on a real chain under an owner-signed
 * mandate. Every refusal spends nothing (no voucher leaves, the channel is not charged) and
 * concurrent requests cannot overshoot the budget.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { BaseError, mandateDomain, mandateJson, mandateTypes, type SpendMandate } from "@verity/core";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import { createVerityClient, type VerityClient } from "./verity-client.ts";

let p: TestProvider;
let cheap: TestProvider;
const authorizer = privateKeyToAccount(generatePrivateKey());
const messages = [{ role: "user" as const, content: "Name one prime number." }];
const clients: VerityClient[] = [];

async function mandateFor(
  overrides: Partial<SpendMandate> = {},
  signer = privateKeyToAccount(p.t.account("client-3").privateKey),
) {
  const now = BigInt(Math.floor(Date.now() / 1000));
  const mandate: SpendMandate = {
    owner: privateKeyToAccount(p.t.account("client-3").privateKey).address,
    spender: authorizer.address,
    token: p.deployment.contracts.TestUSD?.address ?? "0x0000000000000000000000000000000000000000",
    perCall: 200n,
    perHour: 0n,
    perDay: 0n,
    total: 1_000n,
    maxInputPricePerMTok: 0n,
    maxOutputPricePerMTok: 0n,
    models: ["verity-tiny"],
    quantizations: [],
    counterparties: [p.info.agentId],
    validAfter: now - 60n,
    validBefore: now + 3_600n,
    salt: `0x${Buffer.from(generatePrivateKey().slice(2), "hex").toString("hex")}`,
    ...overrides,
  };
  const signature = await signer.signTypedData({
    domain: mandateDomain({ chainId: p.deployment.chainId }),
    types: mandateTypes,
    primaryType: "SpendMandate",
    message: mandate,
  });
  return mandateJson({ chainId: p.deployment.chainId, mandate, signature });
}

function newClient(mandate: unknown) {
  const client = createVerityClient({
    provider: p.t.edr.provider,
    deployment: p.deployment,
    account: privateKeyToAccount(p.t.account("client-3").privateKey),
    authorizer,
    stateDir: mkdtempSync(join(tmpdir(), "verity-mandate-client-")),
    indexerPollMs: 50,
    autoOpen: { amount: 5_000n },
    audit: { p: 0 },
    mandate,
  });
  clients.push(client);
  return client;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof BaseError, String(error));
    return `${error.code}:${(error.details as { limit?: string } | undefined)?.limit ?? ""}`;
  }
  return "ok";
}

async function charged(client: VerityClient): Promise<bigint> {
  return (await client.channels()).reduce((sum, c) => sum + c.charged + c.pending, 0n);
}

before(async () => {
  p = await startTestProvider();
  // Cheaper, so plain routing would pick it: the mandate's counterparty list must keep requests away.
  cheap = await startTestProvider({
    t: p.t,
    deployment: p.deployment,
    account: "provider-2",
    inputPricePerMTok: 500_000n,
    outputPricePerMTok: 1_000_000n,
  });
  await mintTestUSD(p.t, p.deployment, "client-3", 100_000_000n);
});

after(async () => {
  for (const client of clients) await client.stop();
  await cheap.close();
  await p.close();
});

test("within the mandate: answered by the allowed counterparty, the spend is what the receipts charged", async () => {
  const client = newClient(await mandateFor());
  await client.start();
  const first = await client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 8, temperature: 0 });
  assert.equal(first.verity.agentId, p.info.agentId.toString(), "never routed to the cheaper, unlisted provider");
  const state = await client.mandate();
  assert.ok(state);
  assert.equal(state.spent.total, BigInt(first.verity.charge));
  assert.equal(await charged(client), BigInt(first.verity.charge));
});

test("each refusal names its limit and spends nothing", async () => {
  const client = newClient(await mandateFor({ perCall: 120n, total: 300n }));
  await client.start();
  await client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 4, temperature: 0 });
  const before = await charged(client);
  const spentBefore = (await client.mandate())?.spent.total;
  assert.equal(
    await codeOf(client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 200 })),
    "mandate_exceeded:per_call",
  );
  assert.equal(
    await codeOf(
      client.chat.completions.create(
        { model: "verity-tiny", messages, max_tokens: 4 },
        { agentId: cheap.info.agentId },
      ),
    ),
    "mandate_not_allowed:counterparties",
    "an agent outside the mandate's counterparties is refused by name",
  );
  let refused = "ok";
  for (let i = 0; i < 10 && refused === "ok"; i++) {
    refused = await codeOf(
      client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 4, temperature: 0 }),
    );
  }
  assert.equal(refused, "mandate_exceeded:total");
  const spent = (await client.mandate())?.spent.total ?? 0n;
  assert.ok(spent <= 300n, `spent ${spent} under a total of 300`);
  assert.equal(await charged(client), spent, "the channel was charged exactly the mandate's spend");
  assert.ok(spent > (spentBefore ?? 0n));
  assert.ok(before > 0n);
});

test("a model outside the mandate, an expired mandate and a forged one are refused before anything is signed", async () => {
  const onlyOther = newClient(await mandateFor({ models: ["another-model"] }));
  assert.equal(
    await codeOf(onlyOther.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 4 })),
    "mandate_not_allowed:models",
  );
  assert.equal(await charged(onlyOther), 0n);
  const now = BigInt(Math.floor(Date.now() / 1000));
  const expired = newClient(await mandateFor({ validAfter: now - 7_200n, validBefore: now - 3_600n }));
  assert.equal(
    await codeOf(expired.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 4 })),
    "mandate_expired:",
  );
  assert.equal((await expired.channels()).length, 0, "no channel was opened for a refused request");
  const forged = newClient(await mandateFor({}, privateKeyToAccount(generatePrivateKey())));
  assert.equal(await codeOf(forged.start()), "mandate_invalid:");
});

test("concurrent requests cannot overshoot the total", async () => {
  const client = newClient(await mandateFor({ perCall: 100n, total: 150n }));
  await client.start();
  const results = await Promise.all(
    Array.from({ length: 8 }, () =>
      codeOf(client.chat.completions.create({ model: "verity-tiny", messages, max_tokens: 8, temperature: 0 })),
    ),
  );
  const spent = (await client.mandate())?.spent.total ?? 0n;
  assert.ok(results.includes("ok"), results.join(", "));
  assert.ok(results.includes("mandate_exceeded:total"), results.join(", "));
  assert.ok(spent <= 150n, `spent ${spent} under a total of 150`);
  assert.equal(await charged(client), spent);
});
