/** `verity agent serve` and `verity agent call` as a user runs them, on a real chain. */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { mintTestUSD } from "../../../provider/src/testing.ts";
import { runVerity, startTestNetwork, startVerity, type TestNetwork } from "../cli-testing.ts";

let net: TestNetwork;
let agent: Awaited<ReturnType<typeof startVerity>>;
let payer: string[];

before(async () => {
  net = await startTestNetwork();
  await mintTestUSD(net.t, net.deployment, "provider-6", 1_000_000_000n);
  await mintTestUSD(net.t, net.deployment, "client-6", 10_000_000n);
  const agentKey = join(net.dir, "agent.key");
  writeFileSync(agentKey, `${net.key("provider-6")}\n`, { mode: 0o600 });
  const payerKey = join(net.dir, "payer.key");
  writeFileSync(payerKey, `${net.key("client-6")}\n`, { mode: 0o600 });
  const chain = ["--rpc", net.rpcUrl, "--deployment", net.deploymentFile];
  agent = await startVerity([
    "agent",
    "serve",
    "--skill",
    "shout",
    "--script",
    "tr a-z A-Z",
    "--price",
    "0.001",
    "--port",
    "0",
    "--data-dir",
    join(net.dir, "agent"),
    "--key-file",
    agentKey,
    ...chain,
  ]);
  payer = [...chain, "--key-file", payerKey, "--state-dir", join(net.dir, "client"), "--auto-open", "0.01"];
});
after(async () => {
  await agent?.stop();
  await net?.close();
});

test("serve a script as a paid agent, then hire it by card URL: artifact, charge and receipt in --json", async () => {
  assert.match(String(agent.ready.cardUrl), /\/\.well-known\/agent-card\.json$/);
  const run = await runVerity(["agent", "call", String(agent.ready.url), "make me loud", ...payer, "--json"]);
  assert.equal(run.status, 0, run.stderr);
  const out = run.json[0] as { artifact: string; charge: string; agentId: string; requestId: string };
  assert.equal(out.artifact, "MAKE ME LOUD");
  assert.equal(out.charge, "1000");
  assert.equal(out.agentId, agent.ready.agentId);
  assert.match(out.requestId, /^0x[0-9a-f]{64}$/);
});

test("an unknown skill and a price over --max-price are refused with their codes, nothing paid", async () => {
  const unknown = await runVerity([
    "agent",
    "call",
    String(agent.ready.url),
    "hi",
    "--skill",
    "whisper",
    ...payer,
    "--json",
  ]);
  assert.equal(unknown.status, 1);
  assert.equal(unknown.json[0]?.code, "agent_skill_unknown");
  const dear = await runVerity([
    "agent",
    "call",
    String(agent.ready.url),
    "hi",
    "--max-price",
    "0.0005",
    ...payer,
    "--json",
  ]);
  assert.equal(dear.status, 1);
  assert.equal(dear.json[0]?.code, "offer_over_max_price");
});
