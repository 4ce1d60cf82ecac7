import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createGateway } from "@verity/gateway";
import { privateKeyToAccount } from "viem/accounts";
import { gatewayStateDir } from "../../../gateway/src/store/store-testing.ts";
import { startTestProvider, type TestProvider } from "../../../provider/src/testing.ts";
import { runVerity } from "../cli-testing.ts";

let provider: TestProvider;
let gateway: ReturnType<typeof createGateway>;
let gatewayUrl: string;
let dir: string;

before(async () => {
  provider = await startTestProvider({ maxOutputTokens: 256 });
  gateway = createGateway({
    allowPrivateEndpoints: true,
    deployment: provider.deployment,
    provider: provider.t.edr.provider,
    account: privateKeyToAccount(provider.t.account("gateway").privateKey),
    stateDir: await gatewayStateDir("verity-keys-cli-"),
    port: 0,
    x402: false,
  });
  gatewayUrl = (await gateway.start()).url;
  dir = mkdtempSync(join(tmpdir(), "verity-keys-cli-files-"));
  writeFileSync(join(dir, "owner.key"), `${provider.t.account("client-3").privateKey}\n`, { mode: 0o600 });
});
after(async () => {
  await gateway?.stop();
  await provider?.close();
});

test("keys create signs in with the owner's key; list and revoke act with a key of that owner", async () => {
  const ownerKey = join(dir, "owner.key");
  const created = await runVerity([
    "keys",
    "create",
    "--gateway",
    gatewayUrl,
    "--key-file",
    ownerKey,
    "--label",
    "laptop",
    "--json",
  ]);
  assert.equal(created.status, 0, created.stderr);
  const full = created.json[0] as { event: string; key: string; id: string; owner: string };
  assert.equal(full.event, "key_created");
  assert.equal(full.owner, provider.t.account("client-3").address.toLowerCase());
  const scoped = await runVerity([
    "keys",
    "create",
    "--gateway",
    gatewayUrl,
    "--key-file",
    ownerKey,
    "--spend-limit",
    "0.5",
    "--models",
    "verity-tiny",
    "--expires",
    "2h",
  ]);
  assert.equal(scoped.status, 0, scoped.stderr);
  assert.match(scoped.stdout, /shown once/);
  const scopedKey = /\n {2}(vk_\S+)\n/.exec(scoped.stdout)?.[1];
  assert.ok(scopedKey);

  const listed = await runVerity(["keys", "list", "--gateway", gatewayUrl, "--json"], {
    env: { VERITY_API_KEY: full.key },
  });
  assert.equal(listed.status, 0, listed.stderr);
  const data = (listed.json[0] as { data: { id: string; spendLimit: string | null; models: string[] | null }[] }).data;
  assert.equal(data.length, 2);
  const agent = data.find((k) => k.id !== full.id);
  assert.deepEqual([agent?.spendLimit, agent?.models], ["500000", ["verity-tiny"]]);

  const keyFile = join(dir, "scoped.apikey");
  writeFileSync(keyFile, scopedKey, { mode: 0o600 });
  const forbidden = await runVerity([
    "keys",
    "revoke",
    full.id,
    "--gateway",
    gatewayUrl,
    "--api-key-file",
    keyFile,
    "--json",
  ]);
  assert.equal(forbidden.status, 1);
  assert.equal(forbidden.json[0]?.code, "api_key_scope_forbidden");
  const revoked = await runVerity(["keys", "revoke", agent?.id ?? "", "--gateway", gatewayUrl], {
    env: { VERITY_API_KEY: full.key },
  });
  assert.equal(revoked.status, 0, revoked.stderr);
  const after = await runVerity(["keys", "list", "--gateway", gatewayUrl, "--api-key-file", keyFile, "--json"]);
  assert.equal(after.json[0]?.code, "api_key_revoked");
});

test("keys: a key on the command line, a bad flag or an unreachable gateway is one clear error", async () => {
  const inArgv = await runVerity(["keys", "list", "--gateway", gatewayUrl, "--api-key", "vk_secret123", "--json"]);
  assert.equal(inArgv.status, 1);
  assert.equal(inArgv.json[0]?.code, "key_in_argv");
  assert.ok(!inArgv.stdout.includes("vk_secret123") && !inArgv.stderr.includes("vk_secret123"), "never echoed");
  const badLimit = await runVerity([
    "keys",
    "create",
    "--gateway",
    gatewayUrl,
    "--key-file",
    join(dir, "owner.key"),
    "--spend-limit",
    "lots",
  ]);
  assert.equal(badLimit.status, 1);
  assert.match(badLimit.stderr, /--spend-limit .*\[invalid_parameter\]/);
  const down = await runVerity([
    "keys",
    "create",
    "--gateway",
    "http://127.0.0.1:9",
    "--key-file",
    join(dir, "owner.key"),
    "--json",
  ]);
  assert.equal(down.status, 1);
  assert.equal(down.json[0]?.code, "upstream_unreachable");
  const noKey = await runVerity(["keys", "list", "--gateway", gatewayUrl, "--json"]);
  assert.equal(noKey.json[0]?.code, "invalid_parameter");
});
