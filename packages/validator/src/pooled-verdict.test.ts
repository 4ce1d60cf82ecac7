import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { deploy } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import type { Deployment } from "@verity/core";
import { createTestEngine, type Engine } from "@verity/engine";
import { openTestChannel, startTestProvider, type TestProvider } from "../../provider/src/testing.ts";
import { createAuditRunner } from "./audit-runner.ts";
import { receiptDigest } from "./evidence.ts";
import { type AuditSamplePayload, parseAuditSample } from "./intake.ts";
import { createValidatorMetrics } from "./metrics.ts";
import { createModelResolver } from "./model-resolver.ts";
import { buildPooledEvidence, readPooledEvidence } from "./pooled-evidence.ts";
import { decidePooled } from "./pooled-verdict.ts";
import { ZERO_HEAD } from "./provider-evidence.ts";
import { DEFAULT_SPRT, type SprtParams } from "./sprt.ts";
import { signedTestSample } from "./testing.ts";

let t: TestChain;
let deployment: Deployment;
let p: TestProvider;
let substitute: Engine;
let channel: `0x${string}`;
let modelId: bigint;

before(async () => {
  t = await createTestChain();
  deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  p = await startTestProvider({ t, deployment });
  modelId = (p.info.models[0] as { modelId: bigint }).modelId;
  channel = await openTestChannel({
    t,
    deployment,
    payer: "client-1",
    agentId: p.info.agentId,
    modelId,
    amount: 10_000_000n,
  });
  substitute = await createTestEngine({ name: "verity-tiny-sub" });
});

after(async () => {
  await substitute?.close();
  await p?.close();
  await t?.close();
});

/** Pass/fail pooling: one failed audit (S = ln 500 ≈ 6.2) stays below A ≈ 6.9, two cross it. */
const AUDITS: SprtParams = { ...DEFAULT_SPRT, mode: "audits", p0: 0.001, p1: 0.5 };

async function sample(args: { engine: Engine; content: string; key?: `0x${string}` }): Promise<AuditSamplePayload> {
  return parseAuditSample(
    await signedTestSample({
      engine: args.engine,
      providerKey: args.key ?? t.account("provider-1").privateKey,
      deployment,
      agentId: p.info.agentId,
      channelId: channel,
      modelId,
      model: "verity-tiny",
      content: args.content,
      sampling: { temperature: 0, topP: 1, seed: 3, maxTokens: 24, stop: [] },
      charge: 1_000n,
    }),
  );
}

function digest(s: AuditSamplePayload): `0x${string}` {
  return receiptDigest({
    receipt: s.receipt.receipt,
    chainId: deployment.chainId,
    paymentChannels: deployment.contracts.PaymentChannels.address,
  });
}

async function vote(args: {
  samples: AuditSamplePayload[];
  params?: SprtParams;
  memberParams?: SprtParams;
  seeded?: boolean;
  disputed?: `0x${string}`;
  agentId?: string;
}) {
  const params = args.params ?? AUDITS;
  const built = buildPooledEvidence({
    agentId: args.agentId ?? p.info.agentId.toString(),
    params,
    chainBefore: ZERO_HEAD,
    audits: args.samples.map((s) => ({
      id: digest(s),
      sample: s,
      verdict: { pass: false, score: 0, reasons: [], details: [], stats: {} as never },
      outcome: { id: digest(s), tokens: s.outputTokenIds.length, flips: 3, failed: true, seeded: args.seeded ?? false },
    })),
  });
  const read = readPooledEvidence({ body: built.body, evidenceHash: built.hash });
  assert.ok(read.ok);
  const resolver = createModelResolver({
    publicClient: t.publicClient,
    modelRegistry: deployment.contracts.ModelRegistry.address,
    engines: p.engines,
  });
  await resolver.refresh();
  return decidePooled({
    read,
    dispute: { agentId: p.info.agentId.toString(), receiptHash: args.disputed ?? built.strongest },
    deployment,
    publicClient: t.publicClient,
    resolver,
    runner: createAuditRunner({ metrics: createValidatorMetrics() }),
    params: args.memberParams ?? params,
  });
}

describe("a committee member's vote on pooled evidence", () => {
  it("is guilty when its own re-audits cross the bound, and not guilty short of it", async () => {
    const subs = [
      await sample({ engine: substitute, content: "describe a lighthouse" }),
      await sample({ engine: substitute, content: "what is a glacier" }),
    ];
    const honest = await sample({ engine: p.engines[0] as Engine, content: "describe a lighthouse" });
    const both = await vote({ samples: subs });
    assert.equal(both.guilty, true, both.reason);
    assert.match(both.reason, /^pooled_substitute: S = 12\.\d+ over 2\/2 audits/);
    assert.ok(both.tokens > 0);
    // One failed audit and an honest one: the member's test does not cross (whatever the challenger claimed).
    const one = await vote({ samples: [subs[0] as AuditSamplePayload, honest] });
    assert.equal(one.guilty, false);
    assert.match(one.reason, /^pooled_continue/);
  });

  it("fails closed: foreign receipts, a disputed receipt outside the list, unseeded audits, too many audits", async () => {
    const subs = [
      await sample({ engine: substitute, content: "name three rivers" }),
      await sample({ engine: substitute, content: "why is the sky blue" }),
    ];
    // A receipt signed by someone other than the channel's signer.
    const forged = await sample({ engine: substitute, content: "forged", key: t.account("client-2").privateKey });
    assert.equal((await vote({ samples: [...subs, forged] })).reason, "pooled_receipt_not_provider");
    assert.equal((await vote({ samples: subs, disputed: `0x${"11".repeat(32)}` })).reason, "evidence_receipt_mismatch");
    assert.equal((await vote({ samples: subs, agentId: "999" })).reason, "evidence_receipt_mismatch");
    // Flips mode needs the seeded summary: a member whose re-audit has none votes not guilty.
    const flips = await vote({ samples: subs, params: DEFAULT_SPRT, seeded: true });
    assert.deepEqual({ guilty: flips.guilty, reason: flips.reason }, { guilty: false, reason: "pooled_unseeded" });
    const capped = await vote({ samples: subs, memberParams: { ...AUDITS, maxAudits: 1 } });
    assert.equal(capped.reason, "pooled_too_many_audits");
  });
});
