import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { decryptKeystore } from "@verity/chain";
import { privateKeyToAddress } from "viem/accounts";
import { runVerity, startTestNetwork, type TestNetwork, VERITY_BIN } from "../cli-testing.ts";

let net: TestNetwork;
let chainFlags: string[];

before(async () => {
  net = await startTestNetwork();
  chainFlags = ["--rpc", net.rpcUrl, "--deployment", net.deploymentFile];
});
after(async () => {
  await net?.close();
});

test("wallet new writes an encrypted keystore once, readable with its password", async () => {
  const out = join(net.dir, "me.json");
  const created = await runVerity(["wallet", "new", "--out", out, "--json"], { env: { VERITY_PASSWORD: "pw-1" } });
  assert.equal(created.status, 0, created.stderr);
  const address = String(created.json[0]?.address);
  assert.equal(statSync(out).mode & 0o777, 0o600);
  const key = await decryptKeystore({ json: readFileSync(out, "utf8"), password: "pw-1" });
  assert.equal(privateKeyToAddress(key).toLowerCase(), address.toLowerCase());
  assert.ok(!created.stdout.includes(key.slice(2)), "the key is never printed");

  const again = await runVerity(["wallet", "new", "--out", out, "--json"], { env: { VERITY_PASSWORD: "pw-2" } });
  assert.equal(again.status, 1);
  assert.match(String(again.json[0]?.message), /already exists/);
  assert.equal(await decryptKeystore({ json: readFileSync(out, "utf8"), password: "pw-1" }), key, "not overwritten");

  const passwordFile = join(net.dir, "password.txt");
  writeFileSync(passwordFile, "from-a-file\n");
  const fromFile = await runVerity([
    "wallet",
    "new",
    "--out",
    join(net.dir, "f.json"),
    "--password-file",
    passwordFile,
  ]);
  assert.equal(fromFile.status, 0, fromFile.stderr);
  await decryptKeystore({ json: readFileSync(join(net.dir, "f.json"), "utf8"), password: "from-a-file" });

  const noPassword = await runVerity(["wallet", "new", "--out", join(net.dir, "none.json")]);
  assert.equal(noPassword.status, 1);
  assert.match(noPassword.stderr, /--password-file.*VERITY_PASSWORD.*\[invalid_parameter\]/);
});

// util-linux `script` gives the command a pseudo-terminal, so the interactive prompt is exercised.
const hasScript = process.platform === "linux" && existsSync("/usr/bin/script");

test("on a terminal, wallet new asks for the password and its confirmation", { skip: !hasScript }, async () => {
  const out = join(net.dir, "tty.json");
  const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(VERITY_BIN)} wallet new --out ${JSON.stringify(out)}`;
  const typed = spawnSync("/usr/bin/script", ["-qec", command, "/dev/null"], {
    input: "typed-pw\rtyped-pw\r",
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(typed.status, 0, typed.stdout);
  assert.match(typed.stdout, /Keystore password: [\s\S]*Repeat the password: [\s\S]*new key 0x/);
  const key = await decryptKeystore({ json: readFileSync(out, "utf8"), password: "typed-pw" });
  assert.match(key, /^0x[0-9a-f]{64}$/);
});

test("wallet faucet mints TestUSD and wallet balance shows it, by address or by keystore", async () => {
  const out = join(net.dir, "fresh.json");
  const created = await runVerity(["wallet", "new", "--out", out, "--json"], { env: { VERITY_PASSWORD: "pw" } });
  const address = String(created.json[0]?.address);

  const empty = await runVerity(["wallet", "balance", address, ...chainFlags, "--json"]);
  assert.equal(empty.status, 0, empty.stderr);
  assert.deepEqual(
    [empty.json[0]?.eth, (empty.json[0]?.token as { balance: string } | undefined)?.balance, empty.json[0]?.escrow],
    ["0", "0", "0"],
  );

  const minted = await runVerity(["wallet", "faucet", address, "--amount", "12.5", ...chainFlags, "--json"], {
    env: { VERITY_KEY: net.key("client-1") },
  });
  assert.equal(minted.status, 0, minted.stdout + minted.stderr);
  assert.equal(minted.json[0]?.amount, "12500000");

  const viaKeystore = await runVerity(["wallet", "balance", ...chainFlags, "--keystore", out, "--json"], {
    env: { VERITY_KEYSTORE_PASSWORD: "pw" },
  });
  assert.equal(viaKeystore.status, 0, viaKeystore.stdout + viaKeystore.stderr);
  assert.equal(String(viaKeystore.json[0]?.address).toLowerCase(), address.toLowerCase());
  assert.equal((viaKeystore.json[0]?.token as { balance: string } | undefined)?.balance, "12500000");

  const readable = await runVerity(["wallet", "balance", address, ...chainFlags]);
  assert.match(readable.stdout, /TUSD\s+12\.5\n/);

  const wrongPassword = await runVerity(["wallet", "balance", ...chainFlags, "--keystore", out], {
    env: { VERITY_KEYSTORE_PASSWORD: "nope" },
  });
  assert.match(wrongPassword.stderr, /\[keystore_password_invalid\]/);
});

test("the faucet refuses amounts over its limit and deployments without one", async () => {
  const env = { VERITY_KEY: net.key("client-2") };
  const tooMuch = await runVerity(["wallet", "faucet", "--amount", "1000001", ...chainFlags, "--json"], { env });
  assert.equal(tooMuch.json[0]?.code, "faucet_limit_exceeded");
  const noAddress = await runVerity(["wallet", "faucet", ...chainFlags, "--json"]);
  assert.equal(noAddress.json[0]?.code, "invalid_parameter");
  assert.match(String(noAddress.json[0]?.message), /--key/);

  const real = await startTestNetwork({ params: { faucet: false } });
  try {
    const refused = await runVerity(
      ["wallet", "faucet", "--rpc", real.rpcUrl, "--deployment", real.deploymentFile, "--json"],
      { env: { VERITY_KEY: real.key("client-1") } },
    );
    assert.equal(refused.status, 1);
    assert.equal(refused.json[0]?.code, "faucet_disabled");
    assert.match(String(refused.json[0]?.message), /only on devnet/);
  } finally {
    await real.close();
  }
});
