import { keccakBytes } from "@verity/chain";
import { paramsJson, type ReceiptParams, tokenBytes } from "@verity/core";

const hex = (hash: Uint8Array) =>
  `0x${Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString("hex")}` as const;

/**
 * `hashTokens` and `hashParams` of @verity/core over the same bytes (`tokenBytes`, `paramsJson`),
 * hashed with the native keccak: the provider computes three of them per paid request.
 */
export const receiptHashes = {
  tokens: (tokens: readonly number[]): `0x${string}` => hex(keccakBytes(tokenBytes(tokens))),
  params: (params: ReceiptParams): `0x${string}` => hex(keccakBytes(Buffer.from(paramsJson(params), "utf8"))),
};
