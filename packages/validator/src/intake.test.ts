import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { BaseError, hashParams, hashTokens, type RetrievalRecord } from "@verity/core";
import { createTestEngine, type Engine } from "@verity/engine";
import { checkRetrieval, corpusDigest, corpusOf, retrievalMessage, retrieve } from "@verity/provider";
import { type AuditSampleInput, auditSample, parseAuditSample, type RetrievalChecker, transcriptOf } from "./intake.ts";

let engine: Engine;
let sample: AuditSampleInput;
const hex = (byte: string, bytes: number) => `0x${byte.repeat(bytes)}`;

before(async () => {
  engine = await createTestEngine({ name: "verity-tiny" });
  const sampling = { temperature: 0.7, topP: 0.9, seed: 42, maxTokens: 64, stop: [] as string[] };
  const messages = [{ role: "user" as const, content: "tell a story about the sea" }];
  const result = await engine.generate({ prompt: { messages }, sampling });
  sample = {
    version: 1,
    chainId: 31337,
    paymentChannels: hex("ab", 20),
    agentId: "1",
    channelId: hex("01", 32),
    modelId: "1",
    model: "verity-tiny",
    kind: "chat",
    request: { model: "verity-tiny", messages, temperature: 0.7, top_p: 0.9, seed: 42, max_tokens: 64 },
    output: result.text,
    promptTokenIds: result.promptTokens,
    outputTokenIds: result.outputTokens,
    receipt: {
      receipt: {
        requestId: hex("02", 32),
        channelId: hex("01", 32),
        modelId: "1",
        promptHash: hashTokens(result.promptTokens),
        outputHash: hashTokens(result.outputTokens),
        paramsHash: hashParams(sampling),
        promptTokens: result.promptTokens.length,
        completionTokens: result.outputTokens.length,
        charge: "100",
        cumulativeCharged: "100",
        timestamp: "1700000000",
      },
      signature: hex("cd", 65),
      signer: hex("ef", 20),
    },
  };
});

after(async () => {
  await engine.close();
});

function rejects(input: unknown): void {
  assert.throws(
    () => parseAuditSample(input),
    (error: unknown) => error instanceof BaseError && error.code === "audit_sample_invalid",
  );
}

test("malformed audit samples are rejected with audit_sample_invalid", () => {
  rejects(null);
  rejects("{}");
  rejects({ ...sample, version: 2 });
  rejects({ ...sample, promptTokenIds: null });
  rejects({ ...sample, outputTokenIds: null });
  rejects({ ...sample, promptTokenIds: [] });
  rejects({ ...sample, outputTokenIds: [1, -2] });
  rejects({ ...sample, outputTokenIds: [1.5] });
  rejects({ ...sample, channelId: "0x1234" });
  rejects({ ...sample, receipt: { ...sample.receipt, signature: "0x00" } });
  rejects({ ...sample, sampling: { temperature: 3, topP: 1, seed: 0, maxTokens: 1, stop: [] } });
  // Token ids that disagree with the receipt's completion token count.
  rejects({ ...sample, outputTokenIds: [...(sample.outputTokenIds ?? []), 1] });
});

test("a well-formed sample reads its sampling from the request and verifies the params hash", () => {
  const { transcript, receipt, paramsVerifiable } = transcriptOf(parseAuditSample(sample));
  assert.equal(paramsVerifiable, true);
  assert.deepEqual(transcript.sampling, { temperature: 0.7, topP: 0.9, seed: 42, maxTokens: 64, stop: [] });
  assert.equal(receipt.paramsHash, sample.receipt.receipt.paramsHash);
  const noSeed = transcriptOf(parseAuditSample({ ...sample, request: { ...sample.request, seed: undefined } }));
  assert.equal(noSeed.paramsVerifiable, false);
  assert.equal(noSeed.receipt.paramsHash, undefined);
});

test("an honest sample passes; one whose token ids differ from the receipt is receipt_mismatch", async () => {
  const honest = await auditSample({ engine, sample });
  assert.ok(honest.pass, honest.details.join("; "));
  const ids = [...(sample.outputTokenIds ?? [])];
  ids[0] = (ids[0]! + 1) % engine.vocabSize;
  const tampered = await auditSample({ engine, sample: { ...sample, outputTokenIds: ids } });
  assert.ok(tampered.reasons.includes("receipt_mismatch"));
  const otherSeed = await auditSample({ engine, sample: { ...sample, request: { ...sample.request, seed: 43 } } });
  assert.deepEqual(otherSeed.reasons, ["receipt_mismatch"]);
});

test("a retrieval the receipt records is re-run: an honest one matches, a forged one fails retrieval_mismatch, none to re-run is unverifiable and passes", async () => {
  const text = ["Varnholm tides rise twice a day.", "The bakery sells rye bread.", "Tides peak in March."].join("\n\n");
  const corpus = corpusOf({ datasetId: 3n, digest: corpusDigest(Buffer.from(text)), text });
  const question = "When do the tides peak?";
  const { chunks, record } = retrieve({ corpus, query: question });
  const messages = [
    { role: "system" as const, content: retrievalMessage({ datasetId: 3n, chunks }) },
    { role: "user" as const, content: question },
  ];
  const base = { temperature: 0, topP: 1, seed: 5, maxTokens: 8, stop: [] as string[] };
  const result = await engine.generate({ prompt: { messages }, sampling: base });
  // The provider signs whatever record it sends: the forged one is signed too, so only a re-run catches it.
  const signedSample = (retrieval: RetrievalRecord): AuditSampleInput => ({
    ...sample,
    request: { model: "verity-tiny+data-3", messages: [{ role: "user", content: question }], max_tokens: 8 },
    promptTokenIds: result.promptTokens,
    outputTokenIds: result.outputTokens,
    sampling: { ...base, retrieval },
    receipt: {
      ...sample.receipt,
      receipt: {
        ...sample.receipt.receipt,
        promptHash: hashTokens(result.promptTokens),
        outputHash: hashTokens(result.outputTokens),
        paramsHash: hashParams({ ...base, retrieval }),
        promptTokens: result.promptTokens.length,
        completionTokens: result.outputTokens.length,
      },
    },
  });
  const checker: RetrievalChecker = (args) => checkRetrieval({ ...args, corpus });
  const honest = await auditSample({ engine, sample: signedSample(record), retrieval: checker });
  assert.ok(honest.pass, honest.details.join("; "));
  assert.equal(honest.retrieval, "match");
  const forged = await auditSample({
    engine,
    sample: signedSample({ ...record, chunkIds: [...record.chunkIds].reverse() }),
    retrieval: checker,
  });
  assert.equal(forged.pass, false);
  assert.ok(forged.reasons.includes("retrieval_mismatch"));
  assert.equal(forged.retrieval, "retrieval_mismatch");
  // A validator without the corpus (or without a checker) cannot tell: never a failure on its own missing data.
  const blind = await auditSample({
    engine,
    sample: signedSample({ ...record, chunkIds: [...record.chunkIds].reverse() }),
    retrieval: (args) => checkRetrieval({ ...args, corpus: undefined }),
  });
  assert.ok(blind.pass, blind.details.join("; "));
  assert.equal(blind.retrieval, "unverifiable");
  const unchecked = await auditSample({ engine, sample: signedSample(record) });
  assert.equal(unchecked.retrieval, "unverifiable");
  // A record the receipt does not sign is a receipt mismatch, as any other params change.
  const unsigned = signedSample(record);
  const swapped = await auditSample({
    engine,
    sample: { ...unsigned, sampling: { ...base, retrieval: { ...record, chunkIds: [0] } } },
    retrieval: checker,
  });
  assert.ok(swapped.reasons.includes("receipt_mismatch"));
});
