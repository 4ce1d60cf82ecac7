import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { test } from "node:test";
import type { Deployment } from "@verity/core";
import { createAuditQueue } from "./audit-queue.ts";
import { createAuditSampler } from "./audit-sampler.ts";
import { CLIENT_SCHEMA_VERSION, openClientState } from "./client-state.ts";
import { createTranscriptStore, type Transcript } from "./transcript-store.ts";

const deployment = {
  chainId: 31337,
  contracts: { PaymentChannels: { address: "0x00000000000000000000000000000000000000cc", block: 0 } },
} as unknown as Deployment;

function transcript(n: number, withIds: boolean): Transcript {
  return {
    requestId: `0x${n.toString(16).padStart(64, "0")}`,
    agentId: 1n,
    channelId: `0x${"02".repeat(32)}`,
    modelId: 3n,
    model: "verity-tiny",
    kind: "chat",
    request: { messages: [{ role: "user", content: "hi" }], max_tokens: 4 },
    output: "hello",
    promptTokenIds: withIds ? [1, 2, 3] : null,
    outputTokenIds: withIds ? [4, 5] : null,
    sampling: withIds ? { temperature: 1, topP: 1, seed: 9, maxTokens: 4, stop: [] } : null,
    receipt: {
      receipt: {
        requestId: `0x${n.toString(16).padStart(64, "0")}`,
        channelId: `0x${"02".repeat(32)}`,
        modelId: "3",
        promptHash: `0x${"03".repeat(32)}`,
        outputHash: `0x${"04".repeat(32)}`,
        paramsHash: `0x${"05".repeat(32)}`,
        promptTokens: 3,
        completionTokens: 2,
        charge: "7",
        cumulativeCharged: "7",
        timestamp: "1",
      },
      signature: `0x${n.toString(16).padStart(130, "0")}`,
      signer: `0x${"06".repeat(20)}`,
    },
    createdAt: Date.now(),
  };
}

test("a state dir written before transcripts had a sampling column still opens, and keeps its rows", () => {
  const dir = mkdtempSync(join(tmpdir(), "verity-sdk-migrate-"));
  const old = new DatabaseSync(join(dir, "client.sqlite"));
  old.exec(`
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta VALUES ('deployment', '31337:0x00000000000000000000000000000000000000cc'), ('schema', '1');
    CREATE TABLE transcripts (
      request_id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, channel_id TEXT NOT NULL, model_id TEXT NOT NULL,
      model TEXT NOT NULL, kind TEXT NOT NULL, request TEXT NOT NULL, output TEXT NOT NULL,
      prompt_token_ids TEXT, output_token_ids TEXT, receipt TEXT NOT NULL, signature TEXT NOT NULL,
      signer TEXT NOT NULL, charge TEXT NOT NULL, cumulative_charged TEXT NOT NULL, created_at INTEGER NOT NULL
    );
  `);
  const before = transcript(1, false);
  old
    .prepare(
      `INSERT INTO transcripts VALUES (?, '1', ?, '3', 'verity-tiny', 'chat', '{}', 'hello', NULL, NULL, ?, ?, ?, '7', '7', ?)`,
    )
    .run(
      before.requestId,
      before.channelId,
      JSON.stringify(before.receipt.receipt),
      before.receipt.signature,
      before.receipt.signer,
      before.createdAt,
    );
  old.close();

  const db = openClientState({ stateDir: dir, deployment });
  const store = createTranscriptStore(db);
  const kept = store.get(before.requestId);
  assert.equal(kept?.sampling, null);
  assert.equal(kept?.promptTokenIds, null);
  assert.equal(kept?.receipt.signature, before.receipt.signature);
  const now = transcript(2, true);
  store.record(now, false);
  assert.deepEqual(store.get(now.requestId), now);
  const schema = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string };
  assert.equal(schema.value, String(CLIENT_SCHEMA_VERSION));
  db.close();
  const again = openClientState({ stateDir: dir, deployment }); // reopening a migrated dir is a no-op
  assert.deepEqual(createTranscriptStore(again).get(now.requestId), now);
  again.close();
});

test("a transcript without token ids is stored but never sampled; one with them is sampled with its sampling", () => {
  const db = openClientState({ stateDir: mkdtempSync(join(tmpdir(), "verity-sdk-audits-")), deployment });
  const transcripts = createTranscriptStore(db);
  const samples: unknown[] = [];
  const queue = createAuditQueue({
    transcripts,
    sampler: createAuditSampler({
      chainId: deployment.chainId,
      paymentChannels: deployment.contracts.PaymentChannels.address,
      policy: { pBase: 1 },
      secretOf: () => `0x${"aa".repeat(32)}`,
    }),
    chainId: deployment.chainId,
    paymentChannels: deployment.contracts.PaymentChannels.address,
    fetch,
    onSample: (s) => samples.push(s),
  });
  const blind = transcript(3, false);
  assert.equal(queue.consider(blind), false);
  assert.deepEqual(transcripts.get(blind.requestId), blind, "kept for the audit window all the same");
  assert.deepEqual(samples, []);
  const full = transcript(4, true);
  assert.equal(queue.consider(full), true);
  assert.deepEqual(
    queue.entries("pending").map((e) => e.transcript.requestId),
    [full.requestId],
  );
  const [sample] = samples as ReturnType<typeof queue.toSample>[];
  assert.deepEqual(sample?.sampling, full.sampling);
  assert.deepEqual([sample?.promptTokenIds, sample?.outputTokenIds], [full.promptTokenIds, full.outputTokenIds]);
  assert.equal("sampling" in queue.toSample(blind), false, "no sampling is sent when it is unknown");
  assert.equal("reveal" in queue.toSample(full), false, "no secret is revealed for a receipt without a commitment");
  // A receipt committing to the audit secret: the sample reveals it, with the voucher amount and policy.
  const committed = {
    ...transcript(5, true),
    sampling: {
      temperature: 1,
      topP: 1,
      seed: 9,
      maxTokens: 4,
      stop: [],
      auditCommit: `0x${"bb".repeat(32)}` as const,
    },
    voucherAmount: 1_234n,
  };
  assert.equal(queue.consider(committed), true);
  assert.deepEqual(transcripts.get(committed.requestId), committed);
  assert.deepEqual(queue.toSample(committed).reveal, {
    auditSecret: `0x${"aa".repeat(32)}`,
    voucherAmount: "1234",
    policy: { pBase: 1 },
  });
  db.close();
});
