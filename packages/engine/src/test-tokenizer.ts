/**
 * The tokenizer every test model shares: byte-level BPE (llama.cpp tokenizer model "gpt2",
 * pre-tokenizer "gpt-2") with 256 byte tokens, merges learned from `TOKENIZER_CORPUS`, four control
 * tokens, and a ChatML chat template. Sharing it lets a validator rescore one model's tokens with
 * another model (a substitute is only detectable through its probabilities).
 */
import { byteToUnicodeTable, learnMerges } from "./byte-level-bpe.ts";
import { type GgufValue, gguf } from "./gguf-value.ts";
import { TOKENIZER_CORPUS } from "./tokenizer-corpus.ts";

/** llama.cpp token types (`llama_token_type`). */
const TOKEN_TYPE_NORMAL = 1;
const TOKEN_TYPE_CONTROL = 3;

export const SPECIAL_TOKENS = ["<|bos|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"] as const;

/** ChatML; a turn ends with <|im_end|>, which llama.cpp treats as end-of-generation. */
export const CHAT_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export type TestTokenizer = {
  tokens: string[];
  tokenTypes: number[];
  merges: string[];
  bosId: number;
  eosId: number;
  eotId: number;
};

let cached: TestTokenizer | undefined;

/** Builds (once per process) the shared test tokenizer with `vocabSize` = 512 tokens. */
export function testTokenizer(): TestTokenizer {
  if (cached) return cached;
  const vocabSize = 512;
  const bytes = byteToUnicodeTable();
  const merges = learnMerges({ corpus: TOKENIZER_CORPUS, mergeCount: vocabSize - 256 - SPECIAL_TOKENS.length });
  const tokens = [...bytes];
  const seen = new Set(tokens);
  for (const [left, right] of merges) {
    const merged = left + right;
    if (!seen.has(merged)) {
      seen.add(merged);
      tokens.push(merged);
    }
  }
  if (tokens.length !== vocabSize - SPECIAL_TOKENS.length) throw new Error("tokenizer corpus gave too few merges");
  const normalCount = tokens.length;
  tokens.push(...SPECIAL_TOKENS);
  const tokenTypes = tokens.map((_, i) => (i < normalCount ? TOKEN_TYPE_NORMAL : TOKEN_TYPE_CONTROL));
  cached = {
    tokens,
    tokenTypes,
    merges: merges.map(([l, r]) => `${l} ${r}`),
    bosId: tokens.indexOf("<|bos|>"),
    eosId: tokens.indexOf("<|endoftext|>"),
    eotId: tokens.indexOf("<|im_end|>"),
  };
  return cached;
}

/** The `tokenizer.*` GGUF metadata of the test tokenizer. */
export function testTokenizerMetadata(): [string, GgufValue][] {
  const t = testTokenizer();
  return [
    ["tokenizer.ggml.model", gguf.str("gpt2")],
    ["tokenizer.ggml.pre", gguf.str("gpt-2")],
    ["tokenizer.ggml.tokens", gguf.strings(t.tokens)],
    ["tokenizer.ggml.token_type", gguf.i32s(t.tokenTypes)],
    ["tokenizer.ggml.merges", gguf.strings(t.merges)],
    ["tokenizer.ggml.bos_token_id", gguf.u32(t.bosId)],
    ["tokenizer.ggml.eos_token_id", gguf.u32(t.eosId)],
    ["tokenizer.ggml.eot_token_id", gguf.u32(t.eotId)],
    ["tokenizer.ggml.padding_token_id", gguf.u32(t.eosId)],
    ["tokenizer.ggml.add_bos_token", gguf.bool(true)],
    ["tokenizer.ggml.add_eos_token", gguf.bool(false)],
    ["tokenizer.chat_template", gguf.str(CHAT_TEMPLATE)],
  ];
}
