import type { DatabaseSync } from "node:sqlite";
import { type Hex, hexToString, isHex } from "viem";

/** Where an oracle request is in its life (a dismissed challenge returns it to `answered`, finalizable at once). */
export type OracleStatus = "requested" | "answered" | "challenged" | "rejected" | "finalized" | "refunded";

/** One step of a request's timeline: when it happened (chain time, unix s) and in which transaction. */
export type OracleStep = { at: number; block: number; txHash: string };

/** An inference-oracle request as the explorer shows it, folded from the oracle's events. */
export type OracleRequestRow = {
  requestId: string;
  requester: string;
  modelId: string;
  offerId: string;
  /** Escrowed fee, in payment-token base units. */
  fee: string;
  status: OracleStatus;
  maxTokens: number;
  seed: string;
  /** Inline prompt as text (truncated), or null when it is off-chain (`promptURI`). */
  prompt: string | null;
  promptURI: string;
  promptHash: string;
  /** Last second an answer is accepted (unix s). */
  deadline: number;
  /** Contract called at finalize, or null when the request asked for no callback. */
  callbackTarget: string | null;
  answer: {
    agentId: string;
    answerer: string;
    /** The answer as text (truncated to `ANSWER_CHARS`); `truncated` says whether it was. */
    text: string;
    truncated: boolean;
    bytes: number;
    receiptHash: string;
    promptTokens: number;
    completionTokens: number;
    bond: string;
  } | null;
  challenge: { challenger: string; bond: string; resolution: "pending" | "guilty" | "dismissed" } | null;
  payout: { agentId: string; provider: string; royalty: string; protocolFee: string } | null;
  /** Null until finalize ran the callback (or when there is none); false: it reverted or ran out of gas. */
  callbackOk: boolean | null;
  refunded: string | null;
  timeline: {
    requested: OracleStep;
    answered: OracleStep | null;
    challenged: OracleStep | null;
    resolved: OracleStep | null;
    finalized: OracleStep | null;
    refunded: OracleStep | null;
  };
};

/** Longest answer and prompt text shown, in characters. */
export const ANSWER_CHARS = 280;

const ORACLE_EVENTS = [
  "OracleRequested",
  "OracleAnswered",
  "OracleChallenged",
  "OracleChallengeResolved",
  "OracleFinalized",
  "OracleCallback",
  "OracleRefunded",
];
const ZERO_ADDRESS = /^0x0{40}$/i;

type EventRow = { name: string; args: string; block: number; tx_hash: string; timestamp: number };

/** UTF-8 text of `hex` (invalid sequences become U+FFFD), cut to `ANSWER_CHARS`. */
function text(hex: unknown): { text: string; truncated: boolean; bytes: number } {
  const value = typeof hex === "string" && isHex(hex) ? (hex as Hex) : "0x";
  const full = hexToString(value);
  const chars = [...full];
  return {
    text: chars.slice(0, ANSWER_CHARS).join(""),
    truncated: chars.length > ANSWER_CHARS,
    bytes: (value.length - 2) / 2,
  };
}

/**
 * Oracle requests folded from the indexer's stored InferenceOracle events, in chain order; newest
 * (highest id) first. `requestId` narrows to one request.
 */
export function oracleRequests(db: DatabaseSync, filter: { requestId?: string } = {}): OracleRequestRow[] {
  const byId = filter.requestId !== undefined;
  const rows = db
    .prepare(
      `SELECT name, args, block, tx_hash, timestamp FROM events
       WHERE contract = 'InferenceOracle' AND name IN (${ORACLE_EVENTS.map(() => "?").join(", ")})
       ${byId ? "AND json_extract(args, '$.requestId') = ?" : ""}
       ORDER BY block, log_index`,
    )
    .all(...ORACLE_EVENTS, ...(byId ? [filter.requestId as string] : [])) as EventRow[];
  const requests = new Map<string, OracleRequestRow>();
  for (const row of rows) {
    const a = JSON.parse(row.args) as Record<string, unknown>;
    const id = String(a.requestId);
    const step: OracleStep = { at: row.timestamp, block: row.block, txHash: row.tx_hash };
    if (row.name === "OracleRequested") {
      const p = (a.params ?? {}) as Record<string, unknown>;
      const prompt = text(p.prompt);
      const callback = String(p.callback ?? "");
      requests.set(id, {
        requestId: id,
        requester: String(a.requester),
        modelId: String(a.modelId),
        offerId: String(p.offerId),
        fee: String(p.fee),
        status: "requested",
        maxTokens: Number(p.maxTokens),
        seed: String(p.seed),
        prompt: prompt.bytes > 0 ? prompt.text : null,
        promptURI: String(p.promptURI ?? ""),
        promptHash: String(a.promptHash),
        deadline: Number(p.deadline),
        callbackTarget: callback === "" || ZERO_ADDRESS.test(callback) ? null : callback,
        answer: null,
        challenge: null,
        payout: null,
        callbackOk: null,
        refunded: null,
        timeline: {
          requested: step,
          answered: null,
          challenged: null,
          resolved: null,
          finalized: null,
          refunded: null,
        },
      });
      continue;
    }
    const r = requests.get(id);
    if (!r) continue;
    if (row.name === "OracleAnswered") {
      r.status = "answered";
      r.answer = {
        agentId: String(a.agentId),
        answerer: String(a.answerer),
        ...text(a.answer),
        receiptHash: String(a.receiptHash),
        promptTokens: Number(a.promptTokens),
        completionTokens: Number(a.completionTokens),
        bond: String(a.bond),
      };
      r.timeline.answered = step;
    } else if (row.name === "OracleChallenged") {
      r.status = "challenged";
      r.challenge = { challenger: String(a.challenger), bond: String(a.bond), resolution: "pending" };
      r.timeline.challenged = step;
    } else if (row.name === "OracleChallengeResolved") {
      const guilty = a.guilty === true;
      r.status = guilty ? "rejected" : "answered";
      if (r.challenge) r.challenge.resolution = guilty ? "guilty" : "dismissed";
      r.timeline.resolved = step;
    } else if (row.name === "OracleFinalized") {
      r.status = "finalized";
      r.payout = {
        agentId: String(a.agentId),
        provider: String(a.providerAmount),
        royalty: String(a.royaltyAmount),
        protocolFee: String(a.feeAmount),
      };
      r.timeline.finalized = step;
    } else if (row.name === "OracleCallback") {
      r.callbackOk = a.success === true;
    } else if (row.name === "OracleRefunded") {
      r.status = "refunded";
      r.refunded = String(a.fee);
      r.timeline.refunded = step;
    }
  }
  return [...requests.values()].sort((x, y) => (BigInt(y.requestId) > BigInt(x.requestId) ? 1 : -1));
}
