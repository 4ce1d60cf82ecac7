import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { hashParams, type ReceiptParams } from "@verity/core";
import {
  checkRetrieval,
  chunksHash,
  corpusDigest,
  corpusOf,
  loadCorpus,
  retrievalMessage,
  retrievalQuery,
  retrieve,
  splitChunks,
} from "./retrieval.ts";

const TEXT = [
  "Tides at Varnholm rise twice a day.",
  "The bakery opens at six and sells rye bread.",
  "Varnholm tides are highest in March.",
  "Nothing here matches.",
].join("\n\n");
const corpus = corpusOf({ datasetId: 7n, digest: corpusDigest(Buffer.from(TEXT)), text: TEXT });

test("a corpus splits into JSONL lines or blank-line paragraphs, ids by position", () => {
  assert.deepEqual(
    splitChunks('{"text":"a b"}\n\n{"text":"c"}\n').map((c) => c.text),
    ["a b", "c"],
  );
  assert.deepEqual(
    splitChunks("one\ntwo\n\nthree\n").map((c) => [c.id, c.text]),
    [
      [0, "one\ntwo"],
      [1, "three"],
    ],
  );
  assert.equal(corpus.chunks.length, 4);
});

test("BM25 retrieval is deterministic, ranks the matching chunks and skips chunks with no query term", () => {
  const first = retrieve({ corpus, query: "When are the Varnholm tides highest?" });
  assert.deepEqual(first.record.chunkIds, [2, 0, 1], 'both tide chunks first; the bakery chunk shares only "the"');
  assert.deepEqual(first, retrieve({ corpus, query: "When are the Varnholm tides highest?" }));
  assert.equal(first.record.chunksHash, chunksHash(first.chunks));
  assert.equal(first.record.datasetId, "7");
  assert.deepEqual(retrieve({ corpus, query: "rye", k: 1 }).record.chunkIds, [1]);
  assert.deepEqual(retrieve({ corpus, query: "zebra" }).record.chunkIds, []);
  assert.match(retrievalMessage({ datasetId: 7n, chunks: first.chunks }), /\[2\] Varnholm tides are highest/);
  assert.equal(
    retrievalQuery([
      { role: "user", content: "first" },
      { role: "assistant", content: "x" },
      { role: "user", content: "second" },
    ]),
    "second",
  );
});

test("loadCorpus refuses a file whose SHA-256 is not the dataset's digest", () => {
  const file = join(mkdtempSync(join(tmpdir(), "verity-corpus-")), "c.txt");
  writeFileSync(file, TEXT);
  assert.equal(loadCorpus({ datasetId: 7n, digest: corpus.digest, file }).chunks.length, 4);
  writeFileSync(file, `${TEXT}!`);
  assert.throws(
    () => loadCorpus({ datasetId: 7n, digest: corpus.digest, file }),
    (e: unknown) => (e as { code?: string }).code === "dataset_digest_mismatch",
  );
});

test("a tampered retrieval record is detected: the re-run disagrees and the signed params hash changes", () => {
  const query = "When are the Varnholm tides highest?";
  const { record } = retrieve({ corpus, query });
  const params: ReceiptParams = { temperature: 0, topP: 1, seed: 1, maxTokens: 8, stop: [], retrieval: record };
  assert.deepEqual(checkRetrieval({ record, query, corpus }), { outcome: "match" });
  const tampered = [
    { ...record, chunkIds: [0, 2] },
    { ...record, chunkIds: [2] },
    { ...record, chunksHash: chunksHash([{ id: 2, text: "forged" }]) },
    { ...record, datasetId: "8" },
  ];
  for (const forged of tampered) {
    assert.equal(checkRetrieval({ record: forged, query, corpus }).outcome, "retrieval_mismatch");
    assert.notEqual(hashParams({ ...params, retrieval: forged }), hashParams(params), "the signature covers it");
  }
  // A different query's honest record does not pass for this query.
  assert.equal(
    checkRetrieval({ record: retrieve({ corpus, query: "rye bread" }).record, query, corpus }).outcome,
    "retrieval_mismatch",
  );
  // Without the corpus (or with another digest) the validator cannot tell: unverifiable, never a mismatch.
  assert.equal(checkRetrieval({ record, query, corpus: undefined }).outcome, "unverifiable");
  const other = corpusOf({ datasetId: 7n, digest: `0x${"11".repeat(32)}`, text: TEXT });
  assert.equal(checkRetrieval({ record, query, corpus: other }).outcome, "unverifiable");
});

test("params without a retrieval hash as before (older receipts keep their hash)", () => {
  const params: ReceiptParams = { temperature: 0, topP: 1, seed: 1, maxTokens: 8, stop: [] };
  assert.equal(hashParams({ ...params, retrieval: undefined }), hashParams(params));
});
