/**
 * Builds a tiny llama-architecture GGUF from a seed: deterministic pseudo-random weights, the shared
 * test tokenizer and a ChatML template. Same spec → same bytes, on any machine.
 *
 * Weights are uniform with per-matrix scales chosen so activations keep unit scale through the
 * residual stream and the output logits have a standard deviation of about `logitScale`: the
 * next-token distribution is peaked enough that models and quantisations differ measurably, yet far
 * from one-hot. Output rows of "quiet" tokens (control bytes, lone UTF-8 bytes, BOS and
 * <|im_start|>) are scaled down so generated text is mostly printable.
 */
import type { GgmlType } from "./ggml-types.ts";
import { type GgufValue, gguf } from "./gguf-value.ts";
import { type GgufTensorInput, writeGguf } from "./gguf-writer.ts";
import { createPrng, type Prng } from "./prng.ts";
import { testTokenizer, testTokenizerMetadata } from "./test-tokenizer.ts";

/** Bumped whenever the bytes produced for a spec change (invalidates cached files). */
export const TINY_LLAMA_GENERATOR = "verity-tiny-llama/1";

export type TinyLlamaSpec = {
  name: string;
  seed: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  nFf: number;
  contextLength: number;
  /** Type of the 2-D weight matrices (norms are always F32). */
  weightType: Extract<GgmlType, "F16" | "Q8_0" | "Q4_0">;
  /** Approximate standard deviation of the output logits. */
  logitScale: number;
};

const FILE_TYPE: Record<TinyLlamaSpec["weightType"], number> = { F16: 1, Q8_0: 7, Q4_0: 2 };

/** The canonical string of a spec, stored in the file as `verity.spec` to recognise cached files. */
export function tinyLlamaSpecString(spec: TinyLlamaSpec): string {
  const { name, seed, nEmbd, nLayer, nHead, nHeadKv, nFf, contextLength, weightType, logitScale } = spec;
  return JSON.stringify({
    generator: TINY_LLAMA_GENERATOR,
    name,
    seed,
    nEmbd,
    nLayer,
    nHead,
    nHeadKv,
    nFf,
    contextLength,
    weightType,
    logitScale,
  });
}

export function buildTinyLlamaGguf(spec: TinyLlamaSpec): Uint8Array {
  const { nEmbd, nLayer, nHead, nHeadKv, nFf, weightType } = spec;
  if (nEmbd % nHead !== 0 || nHead % nHeadKv !== 0) throw new RangeError("n_embd/n_head/n_head_kv do not divide");
  const headDim = nEmbd / nHead;
  const nVocab = testTokenizer().tokens.length;
  const prng = createPrng({ seed: spec.seed });

  const matrix = (name: string, cols: number, rows: number, std: number): GgufTensorInput => ({
    name,
    dims: [cols, rows],
    type: weightType,
    values: uniform(prng, cols * rows, std),
  });
  const norm = (name: string): GgufTensorInput => ({
    name,
    dims: [nEmbd],
    type: "F32",
    values: uniform(prng, nEmbd, 0.1, 1),
  });

  const output = matrix("output.weight", nEmbd, nVocab, spec.logitScale / Math.sqrt(nEmbd));
  for (const token of quietTokens()) {
    for (let i = 0; i < nEmbd; i++) output.values[token * nEmbd + i]! *= QUIET_SCALE;
  }
  const tensors: GgufTensorInput[] = [
    matrix("token_embd.weight", nEmbd, nVocab, 1),
    norm("output_norm.weight"),
    output,
  ];
  const inScale = 1 / Math.sqrt(nEmbd);
  for (let i = 0; i < nLayer; i++) {
    tensors.push(
      norm(`blk.${i}.attn_norm.weight`),
      matrix(`blk.${i}.attn_q.weight`, nEmbd, nEmbd, 1.5 * inScale),
      matrix(`blk.${i}.attn_k.weight`, nEmbd, nHeadKv * headDim, 1.5 * inScale),
      matrix(`blk.${i}.attn_v.weight`, nEmbd, nHeadKv * headDim, inScale),
      matrix(`blk.${i}.attn_output.weight`, nEmbd, nEmbd, inScale),
      norm(`blk.${i}.ffn_norm.weight`),
      matrix(`blk.${i}.ffn_gate.weight`, nEmbd, nFf, inScale),
      matrix(`blk.${i}.ffn_up.weight`, nEmbd, nFf, inScale),
      matrix(`blk.${i}.ffn_down.weight`, nFf, nEmbd, 2 / Math.sqrt(nFf)),
    );
  }

  const metadata: [string, GgufValue][] = [
    ["general.architecture", gguf.str("llama")],
    ["general.name", gguf.str(spec.name)],
    ["general.alignment", gguf.u32(32)],
    ["general.file_type", gguf.u32(FILE_TYPE[weightType])],
    ["verity.spec", gguf.str(tinyLlamaSpecString(spec))],
    ["llama.vocab_size", gguf.u32(nVocab)],
    ["llama.context_length", gguf.u32(spec.contextLength)],
    ["llama.embedding_length", gguf.u32(nEmbd)],
    ["llama.block_count", gguf.u32(nLayer)],
    ["llama.feed_forward_length", gguf.u32(nFf)],
    ["llama.attention.head_count", gguf.u32(nHead)],
    ["llama.attention.head_count_kv", gguf.u32(nHeadKv)],
    ["llama.rope.dimension_count", gguf.u32(headDim)],
    ["llama.rope.freq_base", gguf.f32(10000)],
    ["llama.attention.layer_norm_rms_epsilon", gguf.f32(1e-5)],
    ...testTokenizerMetadata(),
  ];
  return writeGguf({ metadata, tensors });
}

const QUIET_SCALE = 0.25;

function quietTokens(): number[] {
  const t = testTokenizer();
  const quiet: number[] = [];
  for (let b = 0; b < 256; b++) if ((b < 0x20 && b !== 0x09 && b !== 0x0a) || b >= 0x7f) quiet.push(b);
  quiet.push(t.bosId, t.tokens.indexOf("<|im_start|>"));
  return quiet;
}

/** `count` values uniform around `mean` with standard deviation `std`. */
function uniform(prng: Prng, count: number, std: number, mean = 0): Float32Array {
  const amplitude = std * Math.sqrt(3);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = mean + prng.nextSigned() * amplitude;
  return out;
}
