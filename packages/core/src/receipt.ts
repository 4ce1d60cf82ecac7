import { keccak256, stringToHex } from "viem";
import { z } from "zod";

/**
 * EIP-712 types of a provider-signed receipt. It commits to what was asked, what was answered and
 * what was charged, so a validator can re-score the answer and a dispute can bind the provider.
 */
export const receiptTypes = {
  Receipt: [
    { name: "requestId", type: "bytes32" },
    { name: "channelId", type: "bytes32" },
    { name: "modelId", type: "uint256" },
    { name: "promptHash", type: "bytes32" },
    { name: "outputHash", type: "bytes32" },
    { name: "paramsHash", type: "bytes32" },
    { name: "promptTokens", type: "uint32" },
    { name: "completionTokens", type: "uint32" },
    { name: "charge", type: "uint256" },
    { name: "cumulativeCharged", type: "uint256" },
    { name: "timestamp", type: "uint64" },
  ],
} as const;

/** Receipts are signed in the PaymentChannels contract's domain under the name "Verity Receipt". */
export function receiptDomain(args: { chainId: number; verifyingContract: `0x${string}` }) {
  return {
    name: "Verity Receipt",
    version: "1",
    chainId: args.chainId,
    verifyingContract: args.verifyingContract,
  } as const;
}

export type Receipt = {
  requestId: `0x${string}`;
  channelId: `0x${string}`;
  modelId: bigint;
  promptHash: `0x${string}`;
  outputHash: `0x${string}`;
  paramsHash: `0x${string}`;
  promptTokens: number;
  completionTokens: number;
  charge: bigint;
  cumulativeCharged: bigint;
  timestamp: bigint;
};

/** Token ids packed as uint32, big-endian (the bytes `promptHash` / `outputHash` hash). */
export function tokenBytes(tokens: readonly number[]): Uint8Array {
  // Same bytes as `encodePacked(uint32[])` (4 big-endian bytes per id), written directly.
  const bytes = new Uint8Array(tokens.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as number;
    if (!Number.isInteger(token) || token < 0 || token > 0xffffffff) {
      throw new RangeError(`Token id ${token} at ${i} is not a uint32`);
    }
    view.setUint32(i * 4, token);
  }
  return bytes;
}

/** keccak256 of token ids packed as uint32 (what `promptHash` / `outputHash` commit to). */
export function hashTokens(tokens: readonly number[]): `0x${string}` {
  return keccak256(tokenBytes(tokens));
}

/**
 * Sampling parameters a receipt commits to (seed included, so sampling can be replayed). `seedKey`
 * (seed-synced sampling, see `sampling-seed.ts`), `auditCommit` (the client's commitment to its audit
 * secret) and `topK` are optional: absent, the canonical JSON is the one older receipts hash.
 */
export type ReceiptParams = {
  temperature: number;
  topP: number;
  seed: number;
  maxTokens: number;
  stop: readonly string[];
  topK?: number | undefined;
  seedKey?: `0x${string}` | undefined;
  auditCommit?: `0x${string}` | undefined;
  /** Retrieval-augmented serving: what the request retrieved (see `RetrievalRecord`). */
  retrieval?: RetrievalRecord | undefined;
};

/**
 * What a retrieval-augmented request retrieved from a dataset, signed into the receipt's params:
 * the dataset id and digest (SHA-256 of the corpus file), the retrieved chunk ids in rank order and
 * the keccak256 of the retrieved chunks' text (`retrievedChunksHash`), so a validator holding the
 * corpus can re-run the retrieval and check both.
 */
export type RetrievalRecord = {
  datasetId: string;
  digest: `0x${string}`;
  chunkIds: number[];
  chunksHash: `0x${string}`;
};

/**
 * The canonical JSON of the sampling parameters (keys in sorted order; optional keys only when
 * present) that `paramsHash` hashes.
 */
export function paramsJson(p: ReceiptParams): string {
  return JSON.stringify({
    ...(p.auditCommit === undefined ? {} : { auditCommit: p.auditCommit }),
    maxTokens: p.maxTokens,
    ...(p.retrieval === undefined
      ? {}
      : {
          retrieval: {
            chunkIds: [...p.retrieval.chunkIds],
            chunksHash: p.retrieval.chunksHash,
            datasetId: p.retrieval.datasetId,
            digest: p.retrieval.digest,
          },
        }),
    seed: p.seed,
    ...(p.seedKey === undefined ? {} : { seedKey: p.seedKey }),
    stop: [...p.stop],
    temperature: p.temperature,
    ...(p.topK === undefined ? {} : { topK: p.topK }),
    topP: p.topP,
  });
}

/** keccak256 of the canonical JSON of the sampling parameters (fixed key order). */
export function hashParams(p: ReceiptParams): `0x${string}` {
  return keccak256(stringToHex(paramsJson(p)));
}

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/);
const uintString = z.string().regex(/^\d{1,78}$/);

/** A `RetrievalRecord` as JSON (transcripts, audit samples); at most 64 chunk ids. */
export const retrievalRecordSchema = z
  .object({
    datasetId: uintString,
    digest: hex32.transform((v) => v as `0x${string}`),
    chunkIds: z.array(z.number().int().nonnegative()).max(64),
    chunksHash: hex32.transform((v) => v as `0x${string}`),
  })
  .strict();

/** A receipt as JSON (the `Verity-Receipt` header is base64 of `{ receipt, signature }`). */
export const receiptJsonSchema = z.object({
  requestId: hex32,
  channelId: hex32,
  modelId: uintString,
  promptHash: hex32,
  outputHash: hex32,
  paramsHash: hex32,
  promptTokens: z.number().int().nonnegative(),
  completionTokens: z.number().int().nonnegative(),
  charge: uintString,
  cumulativeCharged: uintString,
  timestamp: uintString,
});

export const signedReceiptSchema = z.object({
  receipt: receiptJsonSchema,
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/),
  /** The provider's signing address (its agent wallet or owner). */
  signer: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
});

export type ReceiptJson = z.infer<typeof receiptJsonSchema>;
export type SignedReceiptJson = z.infer<typeof signedReceiptSchema>;

export function receiptToJson(r: Receipt): ReceiptJson {
  return {
    ...r,
    modelId: r.modelId.toString(),
    charge: r.charge.toString(),
    cumulativeCharged: r.cumulativeCharged.toString(),
    timestamp: r.timestamp.toString(),
  };
}

export function receiptFromJson(r: ReceiptJson): Receipt {
  return {
    ...r,
    requestId: r.requestId as `0x${string}`,
    channelId: r.channelId as `0x${string}`,
    promptHash: r.promptHash as `0x${string}`,
    outputHash: r.outputHash as `0x${string}`,
    paramsHash: r.paramsHash as `0x${string}`,
    modelId: BigInt(r.modelId),
    charge: BigInt(r.charge),
    cumulativeCharged: BigInt(r.cumulativeCharged),
    timestamp: BigInt(r.timestamp),
  };
}
