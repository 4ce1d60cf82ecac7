/**
 * Retrieval-augmented serving: a local corpus checked against its DatasetRegistry digest, split
 * into chunks, and a deterministic BM25 top-k retrieval whose result is signed into the receipt's
 * params (`RetrievalRecord`), so a validator holding the same corpus can re-run it.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError, type RetrievalRecord } from "@verity/core";
import { keccak256, stringToHex } from "viem";

export type Chunk = { id: number; text: string };

/** A corpus file that hashes to its dataset's digest, split into chunks with their BM25 statistics. */
export type Corpus = {
  datasetId: bigint;
  digest: `0x${string}`;
  chunks: readonly Chunk[];
  terms: readonly Map<string, number>[];
  lengths: readonly number[];
  documentFrequency: Map<string, number>;
  averageLength: number;
};

/** Chunks retrieved per request (the receipt records their ids and hash). */
export const DEFAULT_TOP_K = 3;
const K1 = 1.2;
const B = 0.75;

/** SHA-256 of the file's bytes, 0x-hex (what `verity data register --file` registers). */
export function corpusDigest(bytes: Uint8Array): `0x${string}` {
  return `0x${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Lower-cased letter/digit runs: the terms BM25 scores. */
export function terms(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
}

/**
 * Chunks of a corpus: a JSONL file (every non-empty line a JSON object with a string `text`) gives
 * one chunk per line; any other text one chunk per blank-line-separated paragraph. Ids are 0-based
 * positions, so the same bytes always give the same chunks.
 */
export function splitChunks(text: string): Chunk[] {
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  const jsonl = lines.length > 0 && lines.every((line) => jsonText(line) !== undefined);
  const pieces = jsonl
    ? lines.map((line) => jsonText(line) as string)
    : text
        .split(/\n\s*\n/)
        .map((p) => p.trim())
        .filter(Boolean);
  return pieces.map((piece, id) => ({ id, text: piece }));
}

function jsonText(line: string): string | undefined {
  try {
    const value = JSON.parse(line) as unknown;
    const text = (value as { text?: unknown } | null)?.text;
    return typeof text === "string" ? text : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Loads a corpus and checks it is the registered dataset: its SHA-256 must equal `digest`, else
 * `dataset_digest_mismatch` (a provider refuses to start rather than serve, and charge for, other data).
 */
export function loadCorpus(args: { datasetId: bigint; digest: `0x${string}`; file: string }): Corpus {
  const bytes = readFileSync(args.file);
  const actual = corpusDigest(bytes);
  if (actual.toLowerCase() !== args.digest.toLowerCase()) {
    throw new ConfigError(`The corpus ${args.file} does not hash to dataset ${args.datasetId}'s digest`, {
      code: "dataset_digest_mismatch",
      hint: "Use the exact file registered with `verity data register --file`",
      details: { datasetId: args.datasetId.toString(), registered: args.digest, actual },
    });
  }
  return corpusOf({ datasetId: args.datasetId, digest: actual, text: bytes.toString("utf8") });
}

/** A corpus from text already checked (or a test's). */
export function corpusOf(args: { datasetId: bigint; digest: `0x${string}`; text: string }): Corpus {
  const chunks = splitChunks(args.text);
  const documentFrequency = new Map<string, number>();
  const termMaps = chunks.map((chunk) => {
    const counts = new Map<string, number>();
    for (const term of terms(chunk.text)) counts.set(term, (counts.get(term) ?? 0) + 1);
    for (const term of counts.keys()) documentFrequency.set(term, (documentFrequency.get(term) ?? 0) + 1);
    return counts;
  });
  const lengths = termMaps.map((m) => [...m.values()].reduce((a, b) => a + b, 0));
  const averageLength = lengths.length === 0 ? 0 : lengths.reduce((a, b) => a + b, 0) / lengths.length;
  return {
    datasetId: args.datasetId,
    digest: args.digest,
    chunks,
    terms: termMaps,
    lengths,
    documentFrequency,
    averageLength,
  };
}

/** keccak256 of the JSON array of the retrieved chunks' texts, in rank order. */
export function chunksHash(chunks: readonly Chunk[]): `0x${string}` {
  return keccak256(stringToHex(JSON.stringify(chunks.map((c) => c.text))));
}

/**
 * The `k` chunks with the highest BM25 score for `query` (k1 1.2, b 0.75), ties broken by lower
 * chunk id; chunks sharing no term with the query are never retrieved. Deterministic: the same
 * corpus and query give the same chunks and record on every machine.
 */
export function retrieve(args: { corpus: Corpus; query: string; k?: number }): {
  chunks: Chunk[];
  record: RetrievalRecord;
} {
  const { corpus } = args;
  const queryTerms = [...new Set(terms(args.query))];
  const n = corpus.chunks.length;
  const scored: { id: number; score: number }[] = [];
  for (let i = 0; i < n; i++) {
    const counts = corpus.terms[i] as Map<string, number>;
    const length = corpus.lengths[i] as number;
    let score = 0;
    for (const term of queryTerms) {
      const tf = counts.get(term);
      if (!tf) continue;
      const df = corpus.documentFrequency.get(term) ?? 0;
      const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      score += (idf * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * length) / (corpus.averageLength || 1)));
    }
    if (score > 0) scored.push({ id: i, score });
  }
  scored.sort((a, b) => b.score - a.score || a.id - b.id);
  const chunks = scored.slice(0, args.k ?? DEFAULT_TOP_K).map((s) => corpus.chunks[s.id] as Chunk);
  return {
    chunks,
    record: {
      datasetId: corpus.datasetId.toString(),
      digest: corpus.digest,
      chunkIds: chunks.map((c) => c.id),
      chunksHash: chunksHash(chunks),
    },
  };
}

/** The system message inserted before the request's messages: the retrieved chunks, tagged by id. */
export function retrievalMessage(args: { datasetId: bigint; chunks: readonly Chunk[] }): string {
  const body = args.chunks.map((c) => `[${c.id}] ${c.text}`).join("\n");
  return `Context retrieved from dataset ${args.datasetId} (use it to answer):\n${body}`;
}

/** The retrieval query of a chat request: the text of its last user message (else of all messages). */
export function retrievalQuery(messages: readonly { role: string; content: string }[]): string {
  const user = messages.filter((m) => m.role === "user").at(-1);
  return user ? user.content : messages.map((m) => m.content).join("\n");
}

/**
 * A validator's check of a receipt's retrieval record: re-runs the retrieval over its own copy of
 * the corpus. `unverifiable` when it holds no corpus of that digest (never evidence against the
 * provider); `retrieval_mismatch` when the record's dataset, chunk ids or chunk hash differ.
 */
export function checkRetrieval(args: {
  record: RetrievalRecord;
  query: string;
  corpus: Corpus | undefined;
  k?: number;
}):
  | { outcome: "match" }
  | { outcome: "unverifiable"; reason: string }
  | { outcome: "retrieval_mismatch"; reason: string } {
  const { record, corpus } = args;
  if (!corpus || corpus.digest.toLowerCase() !== record.digest.toLowerCase()) {
    return { outcome: "unverifiable", reason: `no corpus with digest ${record.digest}` };
  }
  if (record.datasetId !== corpus.datasetId.toString()) {
    return { outcome: "retrieval_mismatch", reason: `dataset ${record.datasetId} is not ${corpus.datasetId}` };
  }
  const expected = retrieve({ corpus, query: args.query, ...(args.k === undefined ? {} : { k: args.k }) }).record;
  if (JSON.stringify(expected.chunkIds) !== JSON.stringify([...record.chunkIds])) {
    return { outcome: "retrieval_mismatch", reason: `chunks ${record.chunkIds} are not ${expected.chunkIds}` };
  }
  if (expected.chunksHash !== record.chunksHash) {
    return { outcome: "retrieval_mismatch", reason: "the retrieved chunks' hash differs" };
  }
  return { outcome: "match" };
}
