import assert from "node:assert/strict";
import { test } from "node:test";
import { auditCommitOf, deriveSeedKey } from "@verity/core";
import { checkSeedFields, seedBodyField, seedRefusal, sentSeed } from "./seed-fields.ts";

test("the signed seed fields must be the ones sent: absent is accepted unless required, different never", () => {
  const sent = { seedKey: `0x${"aa".repeat(32)}`, auditCommit: `0x${"bb".repeat(32)}` } as const;
  const base = { temperature: 1, topP: 1, seed: 0, maxTokens: 4, stop: [] };
  assert.deepEqual(checkSeedFields({ sampling: { ...base, ...sent }, sent }), { ok: true });
  assert.deepEqual(
    checkSeedFields({ sampling: { ...base, seedKey: `0x${"AA".repeat(32)}`, auditCommit: sent.auditCommit }, sent }),
    { ok: true },
    "hex case does not matter",
  );
  assert.deepEqual(checkSeedFields({ sampling: base, sent }), { ok: true }, "an older provider signs none");
  assert.deepEqual(checkSeedFields({ sampling: { ...base, auditCommit: sent.auditCommit }, sent }), { ok: true });
  const chosen = `0x${"cc".repeat(32)}` as const;
  assert.equal(checkSeedFields({ sampling: { ...base, ...sent, seedKey: chosen }, sent }).ok, false);
  assert.deepEqual(checkSeedFields({ sampling: { ...base, ...sent, auditCommit: chosen }, sent }), {
    ok: false,
    field: "auditCommit",
    signed: chosen,
    sent: sent.auditCommit,
  });
  assert.equal(
    checkSeedFields({ sampling: { ...base, seedKey: chosen }, sent: undefined }).ok,
    false,
    "nothing was sent",
  );
  assert.deepEqual(checkSeedFields({ sampling: base, sent, require: true }), {
    ok: false,
    field: "seedKey",
    signed: undefined,
    sent: sent.seedKey,
  });
});

test("the body field is derived from the voucher amount and the channel's secret; refusals name their code", () => {
  const auditSecret = `0x${"5e".repeat(32)}` as const;
  const channelId = `0x${"01".repeat(32)}` as const;
  const seed = sentSeed({ chainId: 31337, channelId, voucherAmount: 42n, auditSecret });
  assert.deepEqual(seedBodyField(seed), {
    seed_key: deriveSeedKey({ chainId: 31337, channelId, voucherAmount: 42n, auditSecret }),
    audit_commit: auditCommitOf(auditSecret),
  });
  assert.equal(sentSeed({ chainId: 31337, channelId, voucherAmount: 42n, auditSecret: undefined }), undefined);
  assert.equal(seedBodyField(undefined), undefined);
  const sent = `0x${"aa".repeat(32)}`;
  assert.equal(
    seedRefusal({ ok: false, field: "seedKey", signed: `0x${"bb".repeat(32)}`, sent }).code,
    "seed_derivation_mismatch",
  );
  assert.equal(
    seedRefusal({ ok: false, field: "auditCommit", signed: `0x${"bb".repeat(32)}`, sent }).code,
    "audit_commit_mismatch",
  );
  assert.equal(seedRefusal({ ok: false, field: "seedKey", signed: undefined, sent }).code, "missing_seed");
});
