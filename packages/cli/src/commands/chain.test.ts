import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { devnetAccounts } from "@verity/chain";
import type { Deployment } from "@verity/core";
import { runVerity, startVerity } from "../cli-testing.ts";

const dir = mkdtempSync(join(tmpdir(), "verity-chain-"));
const deployer = devnetAccounts().find((a) => a.role === "deployer")?.privateKey ?? "0x";
const keyFile = join(dir, "deployer.key");
writeFileSync(keyFile, `${deployer}\n`, { mode: 0o600 });
let chain: Awaited<ReturnType<typeof startVerity>>;
let rpcUrl: string;

before(async () => {
  chain = await startVerity(["chain", "--port", "0", "--accounts", "3"]);
  rpcUrl = String(chain.ready.rpcUrl);
});
after(async () => {
  await chain?.stop("SIGKILL");
});

async function rpc(method: string, params: unknown[]): Promise<unknown> {
  const response = await fetch(rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  return ((await response.json()) as { result: unknown }).result;
}

test("verity chain serves a bare chain with funded dev accounts, and a separate verity deploy fills it", async () => {
  assert.equal(chain.ready.chainId, 31337);
  const accounts = chain.ready.accounts as { name: string; address: string; privateKey: string }[];
  assert.deepEqual(
    accounts.map((a) => a.name),
    ["deployer", "treasury", "modelOwner"],
  );
  assert.ok(BigInt(String(await rpc("eth_getBalance", [accounts[0]?.address, "latest"]))) > 0n);
  assert.equal(await rpc("eth_blockNumber", []), "0x0", "no contracts, no blocks");

  const out = join(dir, "deployment.json");
  const deployed = await runVerity(["deploy", "--rpc", rpcUrl, "--key-file", keyFile, "--out", out, "--json"]);
  assert.equal(deployed.status, 0, deployed.stderr);
  assert.equal(deployed.json[0]?.event, "deployed");
  const deployment = JSON.parse(readFileSync(out, "utf8")) as Deployment;
  assert.equal(deployment.chainId, 31337);
  for (const [name, contract] of Object.entries(deployment.contracts)) {
    const code = String(await rpc("eth_getCode", [contract?.address, "latest"]));
    assert.ok(code.length > 2, `${name} has code`);
  }
});

test("deploy errors are one line with a reason code and a non-zero exit", async () => {
  const unreachable = await runVerity(["deploy", "--rpc", "http://127.0.0.1:1", "--key-file", keyFile]);
  assert.equal(unreachable.status, 1);
  assert.equal(unreachable.stderr.trim().split("\n").length, 1, unreachable.stderr);
  assert.match(unreachable.stderr, /did not answer.*\[rpc_unreachable\]/);

  const wrongChain = await runVerity(["deploy", "--rpc", rpcUrl, "--chain-id", "1", "--json"], {
    env: { VERITY_KEY: deployer },
  });
  assert.equal(wrongChain.status, 1);
  assert.equal(wrongChain.json[0]?.code, "chain_id_mismatch");
  assert.match(String(wrongChain.json[0]?.message), /chain 31337, expected 1/);

  const noKey = await runVerity(["deploy", "--rpc", rpcUrl]);
  assert.equal(noKey.status, 1);
  assert.match(noKey.stderr, /--key-file.*VERITY_KEY.*\[invalid_parameter\]/);

  const noRpc = await runVerity(["deploy", "--key-file", keyFile]);
  assert.equal(noRpc.status, 1);
  assert.match(noRpc.stderr, /--rpc is required.*VERITY_RPC/);
});

test("attack: a private key passed on the command line is refused and never echoed", async () => {
  const out = join(dir, "refused.json");
  const raw = await runVerity(["deploy", "--rpc", rpcUrl, "--key", deployer, "--out", out, "--json"]);
  assert.equal(raw.status, 1);
  assert.equal(raw.json[0]?.code, "key_in_argv");
  assert.match(String(raw.json[0]?.hint), /--key-file/);
  assert.ok(!`${raw.stdout}${raw.stderr}`.includes(deployer.slice(2)), "the key is never printed");
  assert.throws(() => readFileSync(out), "nothing was deployed or written");

  const loose = join(dir, "loose.key");
  writeFileSync(loose, deployer, { mode: 0o644 });
  const looseRun = await runVerity(["deploy", "--rpc", "http://127.0.0.1:1", "--key-file", loose]);
  assert.match(looseRun.stderr, /readable by other users.*chmod 600/);
  assert.ok(!`${looseRun.stdout}${looseRun.stderr}`.includes(deployer.slice(2)), "the key is never printed");

  const garbage = join(dir, "garbage.key");
  writeFileSync(garbage, "not a key", { mode: 0o600 });
  const bad = await runVerity(["deploy", "--rpc", rpcUrl, "--key-file", garbage, "--json"]);
  assert.equal(bad.json[0]?.code, "invalid_parameter");
});

test("a port in use is named with what to do", async () => {
  const port = new URL(rpcUrl).port;
  const second = await runVerity(["chain", "--port", port, "--json"]);
  assert.equal(second.status, 1);
  assert.equal(second.json[0]?.code, "port_in_use");
  assert.equal(second.json[0]?.message, `Port ${port} is in use — pass --port or stop the other process`);
});

test("a deployment file for another chain is refused", async () => {
  const out = join(dir, "deployment.json");
  const other = join(dir, "other-chain.json");
  writeFileSync(other, JSON.stringify({ ...JSON.parse(readFileSync(out, "utf8")), chainId: 999 }));
  const listed = await runVerity(["model", "list", "--rpc", rpcUrl, "--deployment", other, "--json"]);
  assert.equal(listed.status, 1);
  assert.equal(listed.json[0]?.code, "deployment_mismatch");
  assert.match(String(listed.json[0]?.message), /chain 999 but the RPC endpoint is chain 31337/);

  const missing = await runVerity(["model", "list", "--rpc", rpcUrl, "--deployment", join(dir, "none.json")]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /No deployment file.*\[deployment_not_found\]/);
});

test("verity chain stops cleanly on SIGINT", async () => {
  const other = await startVerity(["chain", "--port", "0", "--chain-id", "1337", "--accounts", "1"]);
  assert.equal(other.ready.chainId, 1337);
  assert.equal(await other.stop("SIGINT"), 0);
});
