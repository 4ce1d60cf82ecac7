import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { gatewayDepositsAbi, testUSDAbi } from "@verity/contracts";
import { createGateway, type Gateway } from "@verity/gateway";
import { parseEventLogs } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { gatewayStateDir } from "../../../gateway/src/store/store-testing.ts";
import { createTestKey, keyBalance } from "../../../gateway/src/testing.ts";
import { runVerity, startTestNetwork, type TestNetwork } from "../cli-testing.ts";

let net: TestNetwork;
let gateway: Gateway;
let url: string;
let flags: string[];
const env = () => ({ VERITY_KEY: net.key("client-1") });

before(async () => {
  net = await startTestNetwork();
  flags = ["--rpc", net.rpcUrl, "--deployment", net.deploymentFile, "--json"];
  const hash = await net.t.wallet("deployer").writeContract({
    address: net.deployment.token.address,
    abi: testUSDAbi,
    functionName: "mint",
    args: [net.t.account("client-1").address, 100_000_000n],
  });
  await net.t.publicClient.waitForTransactionReceipt({ hash });
  gateway = createGateway({
    deployment: net.deployment,
    provider: net.t.edr.provider,
    account: privateKeyToAccount(net.key("gateway")),
    stateDir: await gatewayStateDir(),
    port: 0,
    indexerPollMs: 50,
    depositConfirmations: 0,
  });
  url = (await gateway.start()).url;
});
after(async () => {
  await gateway?.stop();
  await net?.close();
});

const gatewayAddress = () => net.t.account("gateway").address;

test("verity gateway deposit --gateway <url> funds the depositor's API key in one transaction", async () => {
  const { key } = await createTestKey({ t: net.t, url, account: "client-1" });
  const run = await runVerity(["gateway", "deposit", "--gateway", url, "--amount", "2.5", ...flags], { env: env() });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  const line = run.json[0];
  assert.equal(line?.event, "deposited");
  assert.equal(line?.amount, "2500000");
  assert.equal(String(line?.gateway).toLowerCase(), gatewayAddress().toLowerCase());
  const receipt = await net.t.publicClient.getTransactionReceipt({ hash: line?.txHash as `0x${string}` });
  const [event] = parseEventLogs({ abi: gatewayDepositsAbi, logs: receipt.logs, eventName: "Deposited" });
  assert.equal(event?.address.toLowerCase(), net.deployment.contracts.GatewayDeposits?.address.toLowerCase());
  assert.equal(event?.args.account, net.t.account("client-1").address);
  let balance = 0n;
  for (let i = 0; i < 200 && balance < 2_500_000n; i++) {
    balance = (await keyBalance(url, key)) ?? 0n;
    if (balance < 2_500_000n) await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(balance, 2_500_000n);
});

test("verity gateway deposit --gateway <address> --for <account> credits that account", async () => {
  const forAccount = net.t.account("client-2").address;
  const run = await runVerity(
    ["gateway", "deposit", "--gateway", gatewayAddress(), "--amount", "1", "--for", forAccount, ...flags],
    { env: env() },
  );
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.equal(run.json[0]?.account, forAccount);
  assert.equal(run.json[0]?.from, net.t.account("client-1").address);
});

test("verity gateway deposit refuses bad input with a reason code and sends nothing", async () => {
  const before = await net.t.publicClient.getTransactionCount({ address: net.t.account("client-1").address });
  const deposit = (args: string[], extraEnv: Record<string, string> = env()) =>
    runVerity(["gateway", "deposit", ...args, ...flags], { env: extraEnv });
  const zero = await deposit(["--gateway", gatewayAddress(), "--amount", "0"]);
  assert.notEqual(zero.status, 0);
  assert.equal(zero.json[0]?.code, "invalid_parameter");
  const notGateway = await deposit(["--gateway", "nowhere", "--amount", "1"]);
  assert.equal(notGateway.json[0]?.code, "invalid_parameter");
  const down = await deposit(["--gateway", "http://127.0.0.1:1", "--amount", "1"]);
  assert.equal(down.json[0]?.code, "gateway_unreachable");
  const tooMuch = await deposit(["--gateway", gatewayAddress(), "--amount", "1000000"]);
  assert.equal(tooMuch.json[0]?.code, "erc20_insufficient_balance");
  const badFor = await deposit(["--gateway", gatewayAddress(), "--amount", "1", "--for", "0x12"]);
  assert.equal(badFor.json[0]?.code, "invalid_parameter");
  const noKey = await deposit(["--gateway", gatewayAddress(), "--amount", "1"], {});
  assert.notEqual(noKey.status, 0);
  assert.equal(await net.t.publicClient.getTransactionCount({ address: net.t.account("client-1").address }), before);
});
