import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, test } from "node:test";
import { createIndexer, createNativeAccount } from "@verity/chain";
import { createVerityClient } from "@verity/sdk";
import { channelsOf } from "../../../gateway/src/explorer-queries.ts";
import { mintTestUSD, startTestProvider, type TestProvider } from "../../../provider/src/testing.ts";
import { type AgentDemo, startAgentDemo } from "./agent-demo.ts";

let a: TestProvider;
let b: TestProvider;
let demo: AgentDemo;

before(async () => {
  a = await startTestProvider({ account: "provider-1" });
  b = await startTestProvider({ account: "provider-2", t: a.t, deployment: a.deployment });
  for (const name of ["provider-3", "provider-4", "client-1"])
    await mintTestUSD(a.t, a.deployment, name, 1_000_000_000n);
  demo = await startAgentDemo({
    deployment: a.deployment,
    provider: a.t.edr.provider,
    summariserKey: a.t.account("provider-3").privateKey,
    researchKey: a.t.account("provider-4").privateKey,
    providers: [a.info.agentId, b.info.agentId],
    model: "verity-tiny",
    dataDir: mkdtempSync(join(tmpdir(), "verity-agent-demo-")),
    stake: 500_000_000n,
    indexerPollMs: 50,
  });
});
after(async () => {
  await demo?.stop();
  await b?.close();
  await a?.close();
});

test("one research task buys inference from two providers and hires the summariser, each paid and receipted", async () => {
  const user = createVerityClient({
    provider: a.t.edr.provider,
    deployment: a.deployment,
    account: createNativeAccount(a.t.account("client-1").privateKey),
    stateDir: mkdtempSync(join(tmpdir(), "verity-demo-user-")),
    autoOpen: { amount: 1_000_000n },
    indexerPollMs: 50,
  });
  try {
    const result = await user.callAgent({ cardUrl: demo.research.url, message: "What is verified inference?" });
    assert.match(result.artifact, /^Summary \(\d+ words\): Source 1: /);
    assert.equal(result.charge, 20_000n);
    const trace = demo.lastTask();
    assert.ok(trace);
    assert.deepEqual(
      trace.inference.map((i) => i.agentId),
      [a.info.agentId.toString(), b.info.agentId.toString()],
    );
    assert.ok(trace.inference.every((i) => BigInt(i.charge) > 0n));
    assert.equal(trace.hired.agentId, demo.summariser.agentId.toString());
    assert.equal(trace.hired.charge, "2000");
    // The research agent's channels: one per provider it bought from, one to the summariser.
    const channels = await demo.client.channels();
    assert.deepEqual(
      channels.map((c) => c.agentId).sort(),
      [a.info.agentId, b.info.agentId, demo.summariser.agentId].sort(),
    );
    // The explorer labels the research agent's channel to the summariser as agent-to-agent traffic.
    const path = join(mkdtempSync(join(tmpdir(), "verity-demo-index-")), "index.sqlite");
    const indexer = createIndexer({ deployment: a.deployment, publicClient: a.t.publicClient as never, db: path });
    await indexer.syncOnce();
    await indexer.stop();
    const db = new DatabaseSync(path);
    const toSummariser = channelsOf(db, demo.summariser.agentId.toString(), 10);
    db.close();
    assert.deepEqual(
      toSummariser.map((c) => c.payerAgentId),
      [demo.research.agentId.toString()],
    );
  } finally {
    await user.stop();
  }
});
