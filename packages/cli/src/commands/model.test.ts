import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createTestEngine } from "@verity/engine";
import { runVerity, startTestNetwork, type TestNetwork } from "../cli-testing.ts";

let net: TestNetwork;
let chainFlags: string[];

before(async () => {
  net = await startTestNetwork();
  chainFlags = ["--rpc", net.rpcUrl, "--deployment", net.deploymentFile];
});
after(async () => {
  await net?.close();
});

test("model register computes the identity a provider serving the weights computes, and registers it once", async () => {
  const registered = await runVerity(
    ["model", "register", "--weights", "test:verity-tiny", "--royalty-bps", "500", ...chainFlags, "--json"],
    { env: { VERITY_KEY: net.key("modelOwner") } },
  );
  assert.equal(registered.status, 0, registered.stdout + registered.stderr);
  const line = registered.json[0] as Record<string, string>;
  assert.equal(line.event, "registered");
  assert.equal(line.modelId, "1");
  assert.equal(line.name, "verity-tiny");
  const engine = await createTestEngine({ name: "verity-tiny" });
  try {
    assert.equal(line.weightsHash, engine.identity.weightsHash);
    assert.equal(line.tokenizerHash, engine.identity.tokenizerHash);
  } finally {
    await engine.close();
  }

  const again = await runVerity(["model", "register", "--weights", "test:verity-tiny", ...chainFlags, "--json"], {
    env: { VERITY_KEY: net.key("provider-1") },
  });
  assert.equal(again.status, 1);
  assert.equal(again.json[0]?.code, "model_already_registered");
});

test("model list reads the registry as a table or JSON", async () => {
  await runVerity(
    ["model", "register", "--weights", "test:verity-tiny-sub", "--name", "tiny-sub", ...chainFlags, "--json"],
    { env: { VERITY_KEY: net.key("provider-1") } },
  );
  const listed = await runVerity(["model", "list", ...chainFlags, "--json"]);
  assert.equal(listed.status, 0, listed.stderr);
  const models = listed.json[0]?.models as { modelId: string; name: string; royaltyBps: number; owner: string }[];
  assert.deepEqual(
    models.map((m) => [m.modelId, m.name, m.royaltyBps]),
    [
      ["1", "verity-tiny", 500],
      ["2", "tiny-sub", 0],
    ],
  );
  assert.equal(models[0]?.owner, net.t.account("modelOwner").address);
  const table = await runVerity(["model", "list", ...chainFlags]);
  assert.match(table.stdout, /^id\s+name\s+royalty bps/m);
  assert.match(table.stdout, /^\s*2\s+tiny-sub\s+0\s+0x/m);
});

test("model register refuses bad input before sending anything", async () => {
  const env = { VERITY_KEY: net.key("modelOwner") };
  const tooHigh = await runVerity(
    ["model", "register", "--weights", "test:verity-tiny-q8", "--royalty-bps", "2001", ...chainFlags, "--json"],
    { env },
  );
  assert.equal(tooHigh.json[0]?.code, "royalty_too_high");
  const noFile = await runVerity(["model", "register", "--weights", "/nonexistent.gguf", ...chainFlags, "--json"], {
    env,
  });
  assert.equal(noFile.json[0]?.code, "unknown_model");
  const noKey = await runVerity(["model", "register", "--weights", "test:verity-tiny-q8", ...chainFlags]);
  assert.equal(noKey.status, 1);
  assert.match(noKey.stderr, /--key-file.*--keystore.*VERITY_KEY/);
  const listed = await runVerity(["model", "list", ...chainFlags, "--json"]);
  assert.equal((listed.json[0]?.models as unknown[] | undefined)?.length, 2, "nothing was registered");
});
