/**
 * Tool-call quality per provider as the validator set publishes it: ERC-8004 feedback tagged
 * `tool_calls` in the ReputationRegistry, read from the gateway's indexer (its `events` table).
 *
 * Only feedback whose client is in the current validator set of `Disputes` counts (every other
 * payer of the provider may leave `tool_calls` feedback too, but its word is not a bonded
 * validator's). Of each validator the latest feedback that is not revoked is taken (a validator
 * reports its cumulative score, so its latest value supersedes the earlier ones), and the provider's
 * score is the median across validators, so one validator alone cannot move it past the others.
 * Values are percent (the validator's `value / 10^valueDecimals`), read as 0…1 and clamped.
 *
 * The scores are recomputed whenever the indexer applies a batch with feedback or validator-set
 * events (the indexer polls the chain), and on `refresh()`.
 */
import type { Indexer } from "@verity/chain";

export const TOOL_CALL_TAG = "tool_calls";

type EventRow = { contract: string; name: string; args: string };

const WATCHED = new Set(["NewFeedback", "FeedbackRevoked", "ValidatorRegistered", "ValidatorDeregistered"]);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** `value / 10^decimals` percent as a 0…1 score; undefined for malformed values. */
function scoreOf(value: unknown, decimals: unknown): number | undefined {
  const d = Number(decimals);
  if (typeof value !== "string" || !/^-?\d+$/.test(value) || !Number.isInteger(d) || d < 0 || d > 18) return undefined;
  const percent = Number(value) / 10 ** d;
  return Math.min(1, Math.max(0, percent / 100));
}

export function createToolCallScores(options: { indexer: Indexer }) {
  const { indexer } = options;
  let scores = new Map<string, number>();
  /** Per provider, the validators counted and each one's latest value (for `explain`). */
  let byValidator = new Map<string, Map<string, number>>();

  function refresh(): void {
    const rows = indexer.db
      .prepare(
        `SELECT contract, name, args FROM events
         WHERE (contract = 'Disputes' AND name IN ('ValidatorRegistered', 'ValidatorDeregistered'))
            OR (contract = 'ReputationRegistry' AND name IN ('NewFeedback', 'FeedbackRevoked'))
         ORDER BY block, log_index`,
      )
      .all() as EventRow[];
    const validators = new Set<string>();
    /** agent → client → feedback index → score (non-revoked `tool_calls` feedback). */
    const feedback = new Map<string, Map<string, Map<string, number>>>();
    for (const row of rows) {
      const a = JSON.parse(row.args) as Record<string, unknown>;
      if (row.name === "ValidatorRegistered") validators.add(String(a.validator).toLowerCase());
      else if (row.name === "ValidatorDeregistered") validators.delete(String(a.validator).toLowerCase());
      else if (row.name === "NewFeedback") {
        if (a.tag1 !== TOOL_CALL_TAG) continue;
        const score = scoreOf(a.value, a.valueDecimals);
        if (score === undefined) continue;
        const agent = String(a.agentId);
        const client = String(a.clientAddress).toLowerCase();
        const ofAgent = feedback.get(agent) ?? new Map<string, Map<string, number>>();
        feedback.set(agent, ofAgent);
        const ofClient = ofAgent.get(client) ?? new Map<string, number>();
        ofAgent.set(client, ofClient);
        ofClient.set(String(a.feedbackIndex), score);
      } else if (row.name === "FeedbackRevoked") {
        feedback.get(String(a.agentId))?.get(String(a.clientAddress).toLowerCase())?.delete(String(a.feedbackIndex));
      }
    }
    const nextScores = new Map<string, number>();
    const nextBy = new Map<string, Map<string, number>>();
    for (const [agent, clients] of feedback) {
      const latest = new Map<string, number>();
      for (const [client, entries] of clients) {
        if (!validators.has(client) || entries.size === 0) continue;
        let best = -1n;
        let value = 0;
        for (const [index, score] of entries) {
          if (BigInt(index) > best) {
            best = BigInt(index);
            value = score;
          }
        }
        latest.set(client, value);
      }
      if (latest.size === 0) continue;
      nextBy.set(agent, latest);
      nextScores.set(agent, median([...latest.values()]));
    }
    scores = nextScores;
    byValidator = nextBy;
  }

  refresh();
  const unsubscribe = indexer.subscribe((events) => {
    if (events.some((e) => WATCHED.has(e.name))) refresh();
  });

  return {
    /** The provider's tool-call quality 0…1, or undefined while no validator has published one. */
    score(agentId: bigint): number | undefined {
      return scores.get(agentId.toString());
    },
    /** Each counted validator's latest score of the provider. */
    validators(agentId: bigint): Record<string, number> {
      return Object.fromEntries(byValidator.get(agentId.toString()) ?? []);
    },
    refresh,
    close(): void {
      unsubscribe();
    },
  };
}

export type ToolCallScores = ReturnType<typeof createToolCallScores>;
