/**
 * Turns sampled tokens into streamed text: holds back bytes of an unfinished UTF-8 character and any
 * text that could be the start of a stop sequence, and reports when a stop sequence is complete.
 */

/** Detokenizes `tokens`, given the tokens right before them (for tokenizers that need context). */
export type Detokenize = (tokens: readonly number[], previous: readonly number[]) => string;

export type OutputTextStream = {
  /** Adds a token; returns the text that became final and whether a stop sequence just completed. */
  push(token: number): { text: string; stopped: boolean };
  /** Ends the stream: returns the remaining held-back text (nothing after a stop sequence). */
  finish(): string;
};

/** A trailing U+FFFD may be an incomplete UTF-8 character; wait at most this many tokens for the rest. */
const MAX_PENDING_TOKENS = 4;
const REPLACEMENT = "\uFFFD";

export function createOutputTextStream(options: { stop: readonly string[]; detokenize: Detokenize }): OutputTextStream {
  const { stop, detokenize } = options;
  const tokens: number[] = [];
  let settledTokens = 0; // tokens whose text is in `committed`
  let committed = ""; // decoded text so far
  let emitted = 0; // length of `committed` already returned
  let stopped = false;

  function decodePending(force: boolean): void {
    const pending = tokens.slice(settledTokens);
    if (pending.length === 0) return;
    const text = detokenize(pending, tokens.slice(Math.max(0, settledTokens - 8), settledTokens));
    if (!force && text.endsWith(REPLACEMENT) && pending.length < MAX_PENDING_TOKENS) return;
    committed += text;
    settledTokens = tokens.length;
  }

  function release(final: boolean): string {
    let end = committed.length;
    let match = -1;
    for (const s of stop) {
      const at = committed.indexOf(s, emitted);
      if (at !== -1 && (match === -1 || at < match)) match = at;
    }
    if (match !== -1) {
      stopped = true;
      end = match;
    } else if (!final) {
      end -= heldBack(committed, emitted, stop);
    }
    const text = committed.slice(emitted, end);
    emitted = end;
    return text;
  }

  return {
    push(token) {
      if (stopped) throw new Error("output stream already stopped");
      tokens.push(token);
      decodePending(false);
      const text = release(false);
      return { text, stopped };
    },
    finish() {
      if (stopped) return "";
      decodePending(true);
      return release(true);
    },
  };
}

/** Length of the longest suffix of `text` (after `from`) that is a proper prefix of a stop sequence. */
function heldBack(text: string, from: number, stop: readonly string[]): number {
  let longest = 0;
  for (const s of stop) {
    for (let n = Math.min(s.length - 1, text.length - from); n > longest; n--) {
      if (text.endsWith(s.slice(0, n))) {
        longest = n;
        break;
      }
    }
  }
  return longest;
}
