import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  auditCommitOf,
  deriveSeedKey,
  encodeVoucherHeader,
  hashParams,
  voucherDomain,
  voucherTypes,
} from "@verity/core";
import { privateKeyToAccount } from "viem/accounts";
import type { PaidTranscript } from "./paid-inference.ts";
import { requestSeedFields } from "./seed-fields.ts";
import { openTestChannel, startTestProvider, type TestProvider } from "./testing.ts";

const key = `0x${"ab".repeat(32)}` as const;
const commit = `0x${"cd".repeat(32)}` as const;

test("seed fields: read lowercase; an engine without seed-synced sampling drops the key and keeps the commitment", () => {
  const body = { verity: { seed_key: key.toUpperCase().replace("0X", "0x"), audit_commit: commit } };
  assert.deepEqual(requestSeedFields({ body, seedSync: true, requireSeed: false }), {
    seedKey: key,
    auditCommit: commit,
  });
  assert.deepEqual(requestSeedFields({ body, seedSync: false, requireSeed: true }), { auditCommit: commit });
  assert.deepEqual(requestSeedFields({ body: {}, seedSync: true, requireSeed: false }), {});
  assert.throws(() => requestSeedFields({ body: {}, seedSync: true, requireSeed: true }), { code: "missing_seed" });
  assert.throws(() => requestSeedFields({ body: { verity: { seed_key: key } }, seedSync: true, requireSeed: true }), {
    code: "missing_seed",
  });
  assert.throws(
    () => requestSeedFields({ body: { verity: { seed_key: "0x12" } }, seedSync: true, requireSeed: false }),
    {
      code: "seed_key_invalid",
    },
  );
  assert.throws(() => requestSeedFields({ body: { verity: [key] }, seedSync: true, requireSeed: false }), {
    code: "seed_key_invalid",
  });
});

let p: TestProvider;
let channelId: `0x${string}`;

before(async () => {
  p = await startTestProvider({ requireSeed: true });
  channelId = await openTestChannel({
    t: p.t,
    deployment: p.deployment,
    payer: "client-2",
    agentId: p.info.agentId,
    modelId: p.info.models[0]?.modelId ?? 0n,
    amount: 100_000n,
  });
});
after(async () => {
  await p.close();
});

async function voucher(amount: bigint): Promise<string> {
  const account = privateKeyToAccount(p.t.account("client-2").privateKey);
  const signature = await account.signTypedData({
    domain: voucherDomain({
      chainId: p.deployment.chainId,
      verifyingContract: p.deployment.contracts.PaymentChannels.address,
    }),
    types: voucherTypes,
    primaryType: "Voucher",
    message: { channelId, cumulativeAmount: amount },
  });
  return encodeVoucherHeader({ channelId, cumulativeAmount: amount, signature });
}

async function chat(amount: bigint, verity?: Record<string, unknown>) {
  const response = await fetch(`${p.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "verity-voucher": await voucher(amount) },
    body: JSON.stringify({
      model: "verity-tiny",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 8,
      ...(verity ? { verity } : {}),
    }),
  });
  return {
    status: response.status,
    json: (await response.json()) as {
      error?: { code: string };
      verity?: { receipt: { paramsHash: string }; transcript: PaidTranscript };
    },
  };
}

test("a provider that requires seeds refuses a request without one before charging, and signs the one it is sent", async () => {
  const refused = await chat(5_000n);
  assert.equal(refused.status, 400);
  assert.equal(refused.json.error?.code, "missing_seed");
  const auditSecret = `0x${"5e".repeat(32)}`;
  const seedKey = deriveSeedKey({ chainId: p.deployment.chainId, channelId, voucherAmount: 5_000n, auditSecret });
  const auditCommit = auditCommitOf(auditSecret);
  // The refused voucher was not spent: the same amount pays the seeded request.
  const paid = await chat(5_000n, { seed_key: seedKey, audit_commit: auditCommit });
  assert.equal(paid.status, 200);
  const sampling = paid.json.verity?.transcript.sampling;
  assert.equal(sampling?.seedKey, seedKey);
  assert.equal(sampling?.auditCommit, auditCommit);
  assert.equal(hashParams(sampling as PaidTranscript["sampling"]), paid.json.verity?.receipt.paramsHash);
});
