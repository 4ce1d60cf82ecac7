/**
 * A gentle built-in load generator for the devnet: paid chat requests through the gateway with the
 * devnet API key and the official `openai` client, so the explorer has traffic to show. It prints
 * nothing per request; it counts.
 */
import OpenAI from "openai";

export type TrafficStats = { sent: number; ok: number; failed: number; inFlight: number };

const PROMPTS = [
  "Say hello to the devnet.",
  "Name three colours.",
  "Count from one to five.",
  "What is a payment channel?",
  "Write a haiku about receipts.",
  "Give me a short fact about the sea.",
  "Describe a cat in five words.",
  "What comes after Tuesday?",
  "Suggest a name for a small robot.",
  "Summarise: verifiable inference with vouchers and audits.",
  "List two prime numbers.",
  "Finish the sentence: the quick brown fox",
];

/** At most this many requests wait on the gateway at once; ticks beyond it are skipped, not queued. */
const MAX_IN_FLIGHT = 4;

export function createDevnetTraffic(options: {
  gatewayUrl: string;
  apiKey: string;
  /** Requests per second (default 1). */
  rps?: number;
  model: string;
  /** Largest `max_tokens` asked for (default 128; requests ask for 16 up to it, like chat traffic does). */
  maxTokens?: number;
}) {
  const rps = options.rps ?? 1;
  const client = new OpenAI({ baseURL: `${options.gatewayUrl}/v1`, apiKey: options.apiKey, maxRetries: 0 });
  const stats: TrafficStats = { sent: 0, ok: 0, failed: 0, inFlight: 0 };
  const pending = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;

  async function one(n: number): Promise<void> {
    const prompt = PROMPTS[n % PROMPTS.length] as string;
    const largest = Math.max(16, options.maxTokens ?? 128);
    const max_tokens = 16 + ((n * 37) % (largest - 15));
    const messages = [{ role: "user" as const, content: prompt }];
    if (n % 4 === 3) {
      const stream = await client.chat.completions.create({ model: options.model, messages, max_tokens, stream: true });
      for await (const _chunk of stream) {
        // read to the end: the trailing chunk carries the charge
      }
    } else {
      await client.chat.completions.create({ model: options.model, messages, max_tokens });
    }
  }

  function tick(): void {
    if (stats.inFlight >= MAX_IN_FLIGHT) return;
    const n = stats.sent++;
    stats.inFlight++;
    const request = one(n)
      .then(
        () => {
          stats.ok++;
        },
        () => {
          stats.failed++;
        },
      )
      .finally(() => {
        stats.inFlight--;
        pending.delete(request);
      });
    pending.add(request);
  }

  return {
    rps,
    start(): void {
      if (timer) return;
      timer = setInterval(tick, Math.max(1, Math.round(1000 / rps)));
      timer.unref();
    },
    /** Stops sending and waits for the requests already sent. */
    async stop(): Promise<TrafficStats> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await Promise.all(pending);
      return { ...stats };
    },
    stats(): TrafficStats {
      return { ...stats };
    },
  };
}

export type DevnetTraffic = ReturnType<typeof createDevnetTraffic>;
