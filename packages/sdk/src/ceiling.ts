/**
 * The most a request may cost, computed before it is sent, without the provider's tokenizer.
 *
 * A byte-level BPE tokenizer never produces more tokens than its input has UTF-8 bytes, and a chat
 * template adds a bounded number of tokens per message (role markers, separators) plus a few for
 * the assistant prefix and BOS. So `bytes + 16 per message + 32` bounds the prompt's token count
 * for every tokenizer Verity serves; the ceiling is that bound × input price + max_tokens × output
 * price, rounded up per million (core's `ceilingFor`).
 */
import { type ChatTool, ceilingFor, type Price, type ToolChoice, toolPrompt } from "@verity/core";
import type { ChatMessage } from "./openai-types.ts";

const PER_MESSAGE = 16;
const PER_PROMPT = 32;
const encoder = new TextEncoder();

/** A message's text: a string, or OpenAI's array of text parts joined. */
export function messageText(content: ChatMessage["content"]): string {
  return typeof content === "string" ? content : content.map((part) => part.text).join("");
}

/**
 * Upper bound on the prompt tokens of a chat request; with `tools`, the system text that offers
 * them (`toolPrompt`, what the provider renders) counts as one more message.
 */
export function estimateChatPromptTokens(
  messages: readonly ChatMessage[],
  tools?: { tools?: readonly ChatTool[] | null | undefined; toolChoice?: ToolChoice | null | undefined },
): number {
  let bytes = 0;
  for (const message of messages) bytes += encoder.encode(messageText(message.content)).length;
  const offered = toolPrompt(tools?.tools, tools?.toolChoice);
  const extra = offered === null ? 0 : encoder.encode(offered).length + PER_MESSAGE + 2;
  return bytes + extra + PER_MESSAGE * messages.length + PER_PROMPT;
}

/** Upper bound on the prompt tokens of a text completion (a token-id prompt counts its ids). */
export function estimateTextPromptTokens(prompt: string | readonly string[] | readonly number[]): number {
  if (typeof prompt === "string") return encoder.encode(prompt).length + PER_PROMPT;
  if (prompt.every((p) => typeof p === "number")) return prompt.length + PER_PROMPT;
  const text = (prompt as readonly string[]).join("");
  return encoder.encode(text).length + PER_PROMPT;
}

/** `max_tokens` the provider will use: the request's, else its default (chat: the offer's maximum; text: 16). */
export function effectiveMaxTokens(args: {
  kind: "chat" | "text";
  maxTokens: number | null | undefined;
  offerMaxOutputTokens: number;
}): number {
  if (args.maxTokens != null) return args.maxTokens;
  return args.kind === "chat" ? args.offerMaxOutputTokens : Math.min(16, args.offerMaxOutputTokens);
}

/** The voucher headroom a request needs: `ceil((promptBound × input + maxTokens × output) / 1e6)`. */
export function requestCeiling(args: { price: Price; promptTokens: number; maxTokens: number }): bigint {
  return ceilingFor(args);
}
