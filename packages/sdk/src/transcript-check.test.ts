import assert from "node:assert/strict";
import { test } from "node:test";
import { hashParams, hashTokens, type Receipt } from "@verity/core";
import { checkTranscript } from "./transcript-check.ts";

const transcript = {
  promptTokenIds: [1, 72, 101, 108, 108, 111],
  outputTokenIds: [33, 2],
  sampling: { temperature: 0.7, topP: 0.95, seed: 1234, maxTokens: 16, stop: ["\n"] },
};

const receipt: Receipt = {
  requestId: `0x${"01".repeat(32)}`,
  channelId: `0x${"02".repeat(32)}`,
  modelId: 1n,
  promptHash: hashTokens(transcript.promptTokenIds),
  outputHash: hashTokens(transcript.outputTokenIds),
  paramsHash: hashParams(transcript.sampling),
  promptTokens: transcript.promptTokenIds.length,
  completionTokens: transcript.outputTokenIds.length,
  charge: 10n,
  cumulativeCharged: 10n,
  timestamp: 1n,
};

test("a transcript that hashes to the receipt is kept", () => {
  const verdict = checkTranscript({ transcript, receipt });
  assert.deepEqual(verdict, { ok: true, transcript });
  const upper = { ...receipt, outputHash: receipt.outputHash.toUpperCase().replace("0X", "0x") as `0x${string}` };
  assert.equal(checkTranscript({ transcript, receipt: upper }).ok, true, "hex case does not matter");
});

test("a missing or malformed transcript is not kept", () => {
  assert.equal(checkTranscript({ transcript: undefined, receipt }).ok, false);
  assert.deepEqual(checkTranscript({ transcript: null, receipt }), {
    ok: false,
    reason: "missing",
    detail: "The response carries no transcript",
  });
  for (const bad of [
    { ...transcript, promptTokenIds: [] },
    { ...transcript, outputTokenIds: [1.5] },
    { ...transcript, sampling: { ...transcript.sampling, seed: -1 } },
    { ...transcript, sampling: { ...transcript.sampling, extra: 1 } },
    { promptTokenIds: transcript.promptTokenIds, outputTokenIds: transcript.outputTokenIds },
    "transcript",
  ]) {
    const verdict = checkTranscript({ transcript: bad, receipt });
    assert.equal(verdict.ok === false && verdict.reason, "malformed", JSON.stringify(bad));
  }
});

test("ids or parameters that differ from what the receipt commits to are not kept", () => {
  const cases = [
    { ...transcript, promptTokenIds: [1, 72, 101, 108, 108, 112] },
    { ...transcript, outputTokenIds: [34, 2] },
    { ...transcript, outputTokenIds: [33] },
    { ...transcript, sampling: { ...transcript.sampling, seed: 1235 } },
    { ...transcript, sampling: { ...transcript.sampling, temperature: 1 } },
    { ...transcript, sampling: { ...transcript.sampling, stop: [] } },
  ];
  for (const bad of cases) {
    const verdict = checkTranscript({ transcript: bad, receipt });
    assert.equal(verdict.ok === false && verdict.reason, "mismatch", JSON.stringify(bad));
  }
});
