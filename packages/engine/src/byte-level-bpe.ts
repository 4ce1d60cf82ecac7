/**
 * Byte-level BPE vocabulary building (GPT-2 style, llama.cpp tokenizer model "gpt2", pre-tokenizer
 * "gpt-2"). Every byte has a token, so any UTF-8 text tokenizes and detokenizes losslessly; merges
 * learned from a small corpus only make common English shorter.
 */

/** GPT-2's `bytes_to_unicode`: printable bytes map to themselves, the rest to U+0100 onwards. */
export function byteToUnicodeTable(): string[] {
  const table: string[] = new Array(256);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCodePoint(printable ? b : 256 + next++);
  }
  return table;
}

/** GPT-2 pre-tokenizer split (the regex llama.cpp uses for pre-tokenizer "gpt-2"). */
const PRE_TOKENIZER = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export function preTokenize(text: string): string[] {
  return text.match(PRE_TOKENIZER) ?? [];
}

/** Text → GPT-2 byte-level symbols (one character per UTF-8 byte). */
export function toByteLevel(text: string, table: readonly string[] = byteToUnicodeTable()): string[] {
  return Array.from(new TextEncoder().encode(text), (b) => table[b]!);
}

/**
 * Learns `mergeCount` merges from `corpus` (most frequent adjacent pair first; ties broken by the
 * pair's string order, so the result is deterministic). Stops early when every word is one symbol.
 */
export function learnMerges(options: { corpus: string; mergeCount: number }): [string, string][] {
  const table = byteToUnicodeTable();
  const counts = new Map<string, number>();
  for (const word of preTokenize(options.corpus)) counts.set(word, (counts.get(word) ?? 0) + 1);
  const words = [...counts].map(([word, count]) => ({ symbols: toByteLevel(word, table), count }));

  const merges: [string, string][] = [];
  while (merges.length < options.mergeCount) {
    const pairs = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    }
    let best: string | undefined;
    let bestCount = 0;
    for (const [key, count] of pairs) {
      if (count > bestCount || (count === bestCount && best !== undefined && key < best)) {
        best = key;
        bestCount = count;
      }
    }
    if (best === undefined) break;
    const [left, right] = best.split(" ") as [string, string];
    merges.push([left, right]);
    for (const word of words) word.symbols = applyMerge(word.symbols, left, right);
  }
  return merges;
}

function applyMerge(symbols: string[], left: string, right: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
      out.push(left + right);
      i++;
    } else {
      out.push(symbols[i]!);
    }
  }
  return out;
}
