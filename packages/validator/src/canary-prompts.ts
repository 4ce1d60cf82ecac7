/**
 * The requests canaries send: chat completions drawn from a built-in pool of everyday tasks with
 * randomised wording (phrasing, casing, punctuation, politeness), an occasional system prompt or
 * earlier exchange, and the sampling parameters clients commonly pass (often none at all). Nothing
 * in a canary request is fixed, so a provider cannot tell one from the traffic around it.
 */
import type { ChatCompletionCreateParams, ChatMessage } from "@verity/sdk";

/** A uniform draw in [0, 1) (`Math.random` by default). */
export type Random = () => number;

const TOPICS = [
  "photosynthesis",
  "the water cycle",
  "black holes",
  "compound interest",
  "the French Revolution",
  "vaccines",
  "sourdough bread",
  "public key cryptography",
  "the history of the printing press",
  "climate change",
  "machine learning",
  "the Roman Empire",
  "coral reefs",
  "inflation",
  "plate tectonics",
  "jazz music",
  "the immune system",
  "electric cars",
  "the stock market",
  "volcanoes",
  "honey bees",
  "the moon landing",
  "recycling",
  "the human heart",
  "solar panels",
  "chess openings",
  "the Silk Road",
  "sleep and memory",
  "rainforests",
  "the legislative process",
  "quantum computers",
  "the Great Wall of China",
  "time management",
  "meditation",
  "supply and demand",
  "DNA",
  "hurricanes",
  "the internet",
  "ancient Egypt",
  "renewable energy",
];

const TASKS: readonly ((topic: string) => string)[] = [
  (t) => `explain ${t} in simple terms`,
  (t) => `explain ${t} like I'm five`,
  (t) => `give me a short summary of ${t}`,
  (t) => `what are three interesting facts about ${t}`,
  (t) => `write a short paragraph about ${t}`,
  (t) => `write a haiku about ${t}`,
  (t) => `write a limerick about ${t}`,
  (t) => `what is ${t}`,
  (t) => `how does ${t} work`,
  (t) => `why does ${t} matter`,
  (t) => `list the pros and cons of ${t}`,
  (t) => `write a tweet about ${t}`,
  (t) => `give me a quiz question about ${t}`,
  (t) => `what's a common misconception about ${t}`,
  (t) => `describe ${t} in two sentences`,
  (t) => `write an intro for a school essay on ${t}`,
  (t) => `suggest a title for a blog post about ${t}`,
  (t) => `tell me a fun fact about ${t}`,
];

const STANDALONE = [
  "write a polite email asking my manager for a day off next friday",
  "suggest a name for a small coffee shop",
  "what should I cook for dinner tonight with rice, eggs and spinach",
  "translate 'good morning, how are you' into spanish",
  "give me a motivational quote",
  "write a short birthday message for my sister",
  "how do I reverse a string in python",
  "what's the difference between a list and a tuple in python",
  "write a sql query that counts orders per customer",
  "help me write a cover letter opening line for a marketing job",
  "what are some good stretches after running",
  "recommend three classic novels",
  "write a two line poem about autumn",
  "how many minutes are in a week",
  "give me a packing list for a weekend trip",
  "rewrite this sentence to sound more formal: we gotta fix this asap",
  "what is the capital of australia",
  "suggest a few icebreaker questions for a team meeting",
  "how do I center a div in css",
  "tell me a short joke",
  "what is a good way to learn a new language",
  "write a product description for a reusable water bottle",
  "summarize the plot of romeo and juliet",
  "give me a simple recipe for pancakes",
];

const OPENERS = ["", "", "", "can you ", "could you ", "please ", "pls ", "hey, ", "quick question: ", "I need help: "];
const CLOSERS = [
  "",
  "",
  "",
  "?",
  ".",
  " please",
  " thanks",
  " thanks!",
  "!",
  " - keep it short",
  " in a few sentences",
];

const SYSTEM_PROMPTS = [
  "You are a helpful assistant.",
  "You are a helpful assistant.",
  "You are a concise assistant. Answer briefly.",
  "You are a friendly tutor who explains things clearly.",
  "You are an expert writer. Keep answers short and clear.",
  "Answer the user's question accurately.",
];

const REPLIES = [
  "Sure! Here's a short overview.",
  "Of course. In short, the main idea is simpler than it looks.",
  "Here is a brief answer: it depends a little on the details, but the basics are the same.",
  "Good question. The short version is that several things work together.",
  "Happy to help. There are a few key points to keep in mind.",
];

const FOLLOW_UPS = [
  "can you make it shorter",
  "thanks, and why is that",
  "give me an example",
  "go on",
  "simpler please",
];

function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function chance(random: Random, p: number): boolean {
  return random() < p;
}

/** One user prompt: a task on a topic or a standalone request, in a randomly chosen phrasing. */
export function canaryPrompt(random: Random = Math.random): string {
  const core = chance(random, 0.6) ? pick(random, TASKS)(pick(random, TOPICS)) : pick(random, STANDALONE);
  let text = `${pick(random, OPENERS)}${core}`;
  const closer = pick(random, CLOSERS);
  text = closer === "?" && /\?$/.test(text) ? text : `${text}${closer}`;
  // Capitalised about half the time, as people type.
  return chance(random, 0.5) ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

/** The conversation: sometimes a system prompt, sometimes an earlier exchange before the question. */
export function canaryMessages(args: { random?: Random; prompts?: readonly string[] } = {}): ChatMessage[] {
  const random = args.random ?? Math.random;
  const ask = () => (args.prompts && args.prompts.length > 0 ? pick(random, args.prompts) : canaryPrompt(random));
  const messages: ChatMessage[] = [];
  if (chance(random, 0.35)) messages.push({ role: "system", content: pick(random, SYSTEM_PROMPTS) });
  if (chance(random, 0.12)) {
    messages.push({ role: "user", content: ask() });
    messages.push({ role: "assistant", content: pick(random, REPLIES) });
    messages.push({ role: "user", content: pick(random, FOLLOW_UPS) });
  } else {
    messages.push({ role: "user", content: ask() });
  }
  return messages;
}

/**
 * A whole chat request for `model`, with the parameters clients commonly send: temperature and
 * max_tokens often left out, a seed or top_p now and then, streaming about as often as not.
 * `max_tokens` never exceeds `maxTokens`; it is left out only when the provider's default (its
 * offer's maximum) is within that bound.
 */
export function canaryRequest(args: {
  model: string;
  /** Largest max_tokens to ask for. */
  maxTokens: number;
  /** The offer's `maxOutputTokens` (what the provider uses when max_tokens is absent). */
  offerMaxTokens: number;
  random?: Random;
  prompts?: readonly string[];
}): ChatCompletionCreateParams {
  const random = args.random ?? Math.random;
  const bound = Math.max(1, Math.min(args.maxTokens, args.offerMaxTokens));
  const request: Record<string, unknown> = {
    model: args.model,
    messages: canaryMessages({ random, ...(args.prompts ? { prompts: args.prompts } : {}) }),
  };
  const temperature = pick(random, [undefined, undefined, 0, 0.2, 0.3, 0.5, 0.7, 0.7, 0.8, 1]);
  if (temperature !== undefined) request.temperature = temperature;
  if (chance(random, 0.15)) request.top_p = pick(random, [0.8, 0.9, 0.95, 1]);
  if (chance(random, 0.1)) request.seed = Math.floor(random() * 2 ** 31);
  if (chance(random, 0.05)) request.stop = pick(random, [["\n\n"], ["###"], "END"]);
  const omitMax = args.offerMaxTokens <= args.maxTokens && chance(random, 0.25);
  if (!omitMax) {
    const wanted = pick(random, [32, 50, 64, 100, 128, 150, 200, 256, 300, 400, 512]);
    const key = chance(random, 0.2) ? "max_completion_tokens" : "max_tokens";
    request[key] = Math.min(wanted, bound);
  }
  if (chance(random, 0.5)) request.stream = true;
  return request as ChatCompletionCreateParams;
}
