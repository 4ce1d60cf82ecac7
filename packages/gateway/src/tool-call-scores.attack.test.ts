/**
 * Attacks on the tool-call score: feedback from accounts outside the validator set, and a validator
 * reporting about a provider it never paid (both against the real ReputationRegistry, the gateway's
 * real indexer and the validator's real reporter).
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { after, before, test } from "node:test";
import { connectChain, createIndexer } from "@verity/chain";
import { expectRevert } from "@verity/chain/testing";
import { reputationRegistryAbi } from "@verity/contracts";
import { keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { ValidatorEvent } from "../../validator/src/challenger.ts";
import { createProviderEvidence } from "../../validator/src/provider-evidence.ts";
import { createToolCallReporter } from "../../validator/src/tool-call-reporter.ts";
import { createTxSender } from "../../validator/src/tx-sender.ts";
import { createToolCallScene, type ToolCallScene, ZERO_HASH } from "./tool-call-scene.ts";
import { createToolCallScores } from "./tool-call-scores.ts";

let scene: ToolCallScene;

before(async () => {
  scene = await createToolCallScene();
  await scene.publish("validator-1", scene.sloppy, 2000n);
  await scene.publish("validator-2", scene.sloppy, 3000n);
  await scene.publish("validator-1", scene.careful, 9000n);
});

after(async () => {
  await scene.close();
});

test("attack: a payer outside the validator set does not move the score", async () => {
  const { t, deployment, sloppy, careful } = scene;
  const indexer = createIndexer({ deployment, publicClient: t.publicClient as never, db: ":memory:" });
  const scores = createToolCallScores({ indexer });
  await indexer.syncOnce();
  assert.equal(scores.score(sloppy.info.agentId), 0.25);
  // client-1 paid both providers (so the registry takes its feedback) but is no validator.
  for (let i = 0; i < 5; i++) await scene.publish("client-1", sloppy, 10_000n);
  await scene.publish("client-1", careful, 0n);
  // Nor does the provider's own wallet get a say (the registry refuses it outright).
  await expectRevert(
    t.wallet("provider-1").writeContract({
      address: scene.registry,
      abi: reputationRegistryAbi,
      functionName: "giveFeedback",
      args: [sloppy.info.agentId, 10_000n, 2, "tool_calls", "verity-validator", "", "", ZERO_HASH],
    }),
    "SelfFeedbackNotAllowed",
  );
  await indexer.syncOnce();
  assert.equal(scores.score(sloppy.info.agentId), 0.25);
  assert.equal(scores.score(careful.info.agentId), 0.9);
  assert.equal(scores.validators(sloppy.info.agentId)[t.account("client-1").address.toLowerCase()], undefined);
  scores.close();
  await indexer.stop();
});

test("attack: a validator that never paid a provider cannot report about it", async () => {
  const { t, deployment, careful } = scene;
  const me = t.account("validator-3").address;
  // Directly: the registry refuses.
  await expectRevert(
    t.wallet("validator-3").writeContract({
      address: scene.registry,
      abi: reputationRegistryAbi,
      functionName: "giveFeedback",
      args: [careful.info.agentId, 0n, 2, "tool_calls", "verity-validator", "", "", ZERO_HASH],
    }),
    "NoSettledPayments",
  );
  // Through its reporter: skipped as unpaid, nothing sent, the counts kept for later.
  const db = new DatabaseSync(":memory:");
  const evidence = createProviderEvidence(db);
  evidence.record({
    agentId: careful.info.agentId.toString(),
    id: keccak256(toHex("unpaid-audit")),
    pass: true,
    toolCalls: { calls: 40, valid: 0, checks: [], unscored: 0 },
    at: Date.now(),
  });
  const clients = await connectChain({
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account("validator-3").privateKey),
    expectedChainId: deployment.chainId,
  });
  const events: ValidatorEvent[] = [];
  const reporter = createToolCallReporter({
    db,
    evidence,
    clients,
    deployment,
    sender: createTxSender(clients),
    publicUrl: () => "http://validator-3.example",
    onEvent: (e) => events.push(e),
  });
  await reporter.tick();
  assert.deepEqual(
    events.map((e) => [e.event, e.reason]),
    [["tool_call_feedback_skipped", "tool_call_feedback_unpaid"]],
  );
  const index = await t.publicClient.readContract({
    address: scene.registry,
    abi: reputationRegistryAbi,
    functionName: "getLastIndex",
    args: [careful.info.agentId, me],
  });
  assert.equal(index, 0n);
  assert.equal(reporter.report(careful.info.agentId.toString()), undefined);
});
