import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { hashParams, hashTokens } from "@verity/core";
import { keccak256, stringToHex } from "viem";
import { createAuditStore } from "./audit-store.ts";
import { buildEvidence, receiptDigest } from "./evidence.ts";
import { type AuditSamplePayload, parseAuditSample } from "./intake.ts";
import { pooledEvidenceFor } from "./pooled-challenger.ts";
import { readPooledEvidence } from "./pooled-evidence.ts";
import { createProviderEvidence, logAudit, ZERO_HEAD } from "./provider-evidence.ts";
import { DEFAULT_SPRT } from "./sprt.ts";

const hex = (byte: string, bytes: number) => `0x${byte.repeat(bytes)}`;
const paymentChannels = hex("ab", 20) as `0x${string}`;
const sampling = { temperature: 0.7, topP: 0.9, seed: 1, maxTokens: 8, stop: [] as string[] };

function sampleOf(n: number, args: { tools?: boolean; output?: string } = {}): AuditSamplePayload {
  const output = [4, 5, 6];
  return parseAuditSample({
    version: 1,
    chainId: 31337,
    paymentChannels,
    agentId: "7",
    channelId: hex("01", 32),
    modelId: "1",
    model: "verity-tiny",
    kind: "chat",
    request: {
      model: "verity-tiny",
      messages: [{ role: "user", content: `hi ${n}` }],
      ...(args.tools
        ? {
            tools: [
              {
                type: "function",
                function: {
                  name: "get_weather",
                  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
                },
              },
            ],
          }
        : {}),
    },
    output: args.output ?? "abc",
    promptTokenIds: [1, 2, 3],
    outputTokenIds: output,
    sampling,
    receipt: {
      receipt: {
        requestId: `0x${n.toString(16).padStart(64, "0")}`,
        channelId: hex("01", 32),
        modelId: "1",
        promptHash: hashTokens([1, 2, 3]),
        outputHash: hashTokens(output),
        paramsHash: hashParams(sampling),
        promptTokens: 3,
        completionTokens: 3,
        charge: "10",
        cumulativeCharged: String(10 * n),
        timestamp: "1700000000",
      },
      signature: hex("cd", 65),
      signer: hex("ef", 20),
    },
  });
}

/** Audits `flips` (one entry per audit: its seeded flip count over 300 tokens, or null for an unseeded audit). */
function setup(flips: (number | null)[], options: { tools?: boolean[]; outputs?: string[] } = {}) {
  const db = new DatabaseSync(":memory:");
  const audits = createAuditStore(db);
  const evidence = createProviderEvidence(db);
  const ids: `0x${string}`[] = [];
  flips.forEach((f, i) => {
    const sample = sampleOf(i + 1, {
      ...(options.tools?.[i] ? { tools: true } : {}),
      ...(options.outputs?.[i] ? { output: options.outputs[i] } : {}),
    });
    const id = receiptDigest({ receipt: sample.receipt.receipt, chainId: 31337, paymentChannels });
    ids.push(id);
    audits.enqueue({ id, sample, receivedAt: i });
    const seeded = f === null ? undefined : { tokens: 300, flips: f, marginSum: f * 0.5, maxMargin: f ? 0.9 : 0 };
    const verdict = { pass: true, score: 1, reasons: [], details: [], stats: { seeded } as never };
    audits.recordVerdict({ id, verdict, tokens: 303, seconds: 0.1, challenge: false, at: i });
    logAudit({ store: evidence, record: audits.get(id) as never, sample, at: i });
  });
  return { db, audits, evidence, ids };
}

describe("pooled evidence", () => {
  it("logs audits in a hash chain and finds the substitute segment", () => {
    const { evidence, ids } = setup([0, 0, 3, null, 3, 0]);
    const state = evidence.state("7", DEFAULT_SPRT);
    assert.equal(state.logged, 6);
    assert.equal(state.audits, 5, "the unseeded audit is not pooled in flips mode");
    assert.equal(state.honestEpochs, 1);
    assert.deepEqual(
      state.substitute.map((s) => s.ids),
      [[ids[2], ids[4]]],
    );
    assert.notEqual(state.head, ZERO_HEAD);
    // Logging is idempotent per audit.
    const again = createProviderEvidence(new DatabaseSync(":memory:"));
    assert.equal(again.state("7", DEFAULT_SPRT).head, ZERO_HEAD);
    assert.equal(evidence.unchallenged("7", DEFAULT_SPRT).length, 1);
    assert.deepEqual(evidence.totals(), {
      providers: 1,
      audits: 6,
      toolCalls: 0,
      validToolCalls: 0,
      challenges: { pending: 0, opened: 0, rejected: 0 },
    });
  });

  it("builds evidence a member can read back, and detects a dropped audit or a changed byte", () => {
    const { audits, evidence, ids } = setup([0, 0, 3, null, 3, 0]);
    const [segment] = evidence.unchallenged("7", DEFAULT_SPRT);
    assert.ok(segment);
    const built = pooledEvidenceFor({ audits, evidence, agentId: "7", segment, params: DEFAULT_SPRT });
    assert.ok(!("code" in built));
    // The stretch of log from the segment's first audit to its last, unseeded audit included.
    const read = readPooledEvidence({ body: built.body, evidenceHash: built.hash });
    assert.ok(read.ok);
    assert.deepEqual(
      read.samples.map((s) => s.id),
      [ids[2], ids[3], ids[4]],
    );
    assert.deepEqual(
      read.samples.map((s) => s.claimedSeeded),
      [true, false, true],
    );
    assert.ok(built.strongest === ids[2] || built.strongest === ids[4]);
    assert.equal(read.evidence.chainBefore, evidence.log("7")[1]?.head);
    assert.equal(read.evidence.chainAfter, evidence.log("7")[4]?.head);

    const doc = JSON.parse(built.body) as { audits: unknown[] };
    doc.audits.splice(1, 1);
    const dropped = JSON.stringify(doc);
    assert.deepEqual(readPooledEvidence({ body: dropped, evidenceHash: keccakOf(dropped) }), {
      ok: false,
      reason: "pooled_chain_mismatch",
    });
    assert.deepEqual(readPooledEvidence({ body: `${built.body} `, evidenceHash: built.hash }), {
      ok: false,
      reason: "evidence_hash_mismatch",
    });
    const single = buildEvidence({
      sample: sampleOf(1),
      verdict: { pass: false, score: 0, reasons: [], details: [], stats: {} as never },
    });
    assert.deepEqual(readPooledEvidence({ body: single.body, evidenceHash: single.hash }), {
      ok: false,
      reason: "evidence_not_pooled",
    });
  });

  it("does not pool a segment one of whose audits is challenged on its own, or one too long", () => {
    const { audits, evidence, ids } = setup([0, 0, 3, 3]);
    const [segment] = evidence.unchallenged("7", DEFAULT_SPRT);
    assert.ok(segment);
    const short = pooledEvidenceFor({
      audits,
      evidence,
      agentId: "7",
      segment,
      params: { ...DEFAULT_SPRT, maxAudits: 1 },
    });
    assert.deepEqual(short, { code: "pooled_too_many_audits" });
    audits.challengeOpened({ id: ids[3] as string, disputeId: 1n, txHash: null });
    assert.deepEqual(pooledEvidenceFor({ audits, evidence, agentId: "7", segment, params: DEFAULT_SPRT }), {
      code: "covered_by_single_challenge",
    });
    evidence.challenge({ agentId: "7", segment, strongest: ids[3] as `0x${string}`, status: "rejected", code: "x" });
    assert.equal(evidence.unchallenged("7", DEFAULT_SPRT).length, 0);
  });

  it("tallies tool-call quality per provider", () => {
    const good = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>';
    const bad = '<tool_call>{"name": "get_weather", "arguments": {"town": "Paris"}}</tool_call>';
    const { evidence } = setup([0, 0, 0, 0], { tools: [true, true, true, false], outputs: [good, good, bad, good] });
    const t = evidence.toolCalls("7");
    assert.deepEqual(
      { audits: t.audits, calls: t.calls, valid: t.valid, score: t.score, reasons: t.reasons },
      { audits: 3, calls: 3, valid: 2, score: 2 / 3, reasons: { tool_call_schema_violation: 1 } },
    );
    assert.equal(t.smoothed, 3 / 5);
  });
});

function keccakOf(body: string): `0x${string}` {
  return keccak256(stringToHex(body));
}
