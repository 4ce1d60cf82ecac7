import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { channelViewOf } from "@verity/chain/testing";
import { agentRegistryAbi, modelRegistryAbi, testUSDAbi } from "@verity/contracts";
import { createVerityClient } from "@verity/sdk";
import { keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { runVerity, startTestNetwork, type TestNetwork } from "../cli-testing.ts";

let net: TestNetwork;
let flags: string[];
let stateDir: string;
const payer = "client-1";

before(async () => {
  net = await startTestNetwork();
  stateDir = join(net.dir, "client");
  flags = ["--rpc", net.rpcUrl, "--deployment", net.deploymentFile, "--state-dir", stateDir];
  const { t, deployment } = net;
  const send = async (hash: Promise<`0x${string}`>) => t.publicClient.waitForTransactionReceipt({ hash: await hash });
  await send(
    t.wallet("provider-1").writeContract({
      address: deployment.contracts.AgentRegistry.address,
      abi: agentRegistryAbi,
      functionName: "register",
      args: ["https://provider.example"],
    }),
  );
  await send(
    t.wallet("modelOwner").writeContract({
      address: deployment.contracts.ModelRegistry.address,
      abi: modelRegistryAbi,
      functionName: "registerModel",
      args: [keccak256(toHex("weights")), keccak256(toHex("tokenizer")), 100, "", "verity-tiny"],
    }),
  );
  await send(
    t.wallet("deployer").writeContract({
      address: deployment.token.address,
      abi: testUSDAbi,
      functionName: "mint",
      args: [t.account(payer).address, 100_000_000n],
    }),
  );
});
after(async () => {
  await net?.close();
});

test("channel open → status → close → finalize, sharing durable state with the SDK", async () => {
  const env = { VERITY_KEY: net.key(payer) };
  const opened = await runVerity(
    ["channel", "open", "--agent", "1", "--model", "verity-tiny", "--amount", "5", ...flags, "--json"],
    { env },
  );
  assert.equal(opened.status, 0, opened.stdout + opened.stderr);
  const channelId = String(opened.json[0]?.channelId) as `0x${string}`;
  assert.equal(opened.json[0]?.deposit, "5000000");
  assert.equal(opened.json[0]?.withdrawDelay, net.deployment.params.minWithdrawDelay);

  // The SDK with the same state dir pays on this channel: same channel, same voucher-signing key.
  const sdk = createVerityClient({
    provider: net.t.edr.provider,
    deployment: net.deployment,
    account: privateKeyToAccount(net.key(payer)),
    stateDir,
  });
  try {
    const [channel] = await sdk.channels();
    assert.equal(channel?.channelId, channelId);
    assert.equal(channel?.state, "open");
    assert.equal(channel?.headroom, 5_000_000n);
    assert.equal(sdk.authorizer, opened.json[0]?.authorizer);
  } finally {
    await sdk.stop();
  }
  const onChain = await channelViewOf({
    publicClient: net.t.publicClient,
    paymentChannels: net.deployment.contracts.PaymentChannels.address,
    channelId: channelId,
  });
  assert.equal(onChain.payerAuthorizer, opened.json[0]?.authorizer);

  const status = await runVerity(["channel", "status", ...flags, "--json"]);
  assert.equal(status.status, 0, status.stderr);
  const [row] = (status.json[0]?.channels ?? []) as Record<string, unknown>[];
  assert.deepEqual(
    [row?.channelId, row?.state, row?.deposit, row?.claimed, row?.charged],
    [channelId, "open", "5000000", "0", "0"],
  );
  const balance = await runVerity(["wallet", "balance", ...flags.slice(0, 4), "--json"], { env });
  assert.equal(balance.json[0]?.escrow, "5000000");

  const early = await runVerity(["channel", "close", channelId, "--finalize", ...flags, "--json"], { env });
  assert.equal(early.json[0]?.code, "withdraw_not_initiated");
  const notMine = await runVerity(["channel", "close", channelId, ...flags, "--json"], {
    env: { VERITY_KEY: net.key("client-2") },
  });
  assert.equal(notMine.json[0]?.code, "not_payer");

  const closing = await runVerity(["channel", "close", channelId, ...flags, "--json"], { env });
  assert.equal(closing.status, 0, closing.stdout + closing.stderr);
  assert.equal(closing.json[0]?.event, "withdrawing");
  const twice = await runVerity(["channel", "close", channelId, ...flags, "--json"], { env });
  assert.equal(twice.json[0]?.code, "withdraw_already_initiated");
  const tooSoon = await runVerity(["channel", "close", channelId, "--finalize", ...flags, "--json"], { env });
  assert.equal(tooSoon.json[0]?.code, "withdraw_not_ready");

  await net.t.increaseTime(BigInt(net.deployment.params.minWithdrawDelay) + 1n);
  const closed = await runVerity(["channel", "close", channelId, "--finalize", ...flags, "--json"], { env });
  assert.equal(closed.status, 0, closed.stdout + closed.stderr);
  assert.equal(closed.json[0]?.refund, "5000000");
  const after = await runVerity(["channel", "status", channelId, ...flags]);
  assert.match(after.stdout, /closed/);
  const gone = await runVerity(["wallet", "balance", ...flags.slice(0, 4), "--json"], { env });
  assert.equal(gone.json[0]?.escrow, "0");
});

test("channel commands refuse bad input with what to do", async () => {
  const env = { VERITY_KEY: net.key(payer) };
  const open = (extra: string[]) => runVerity(["channel", "open", ...flags, "--json", ...extra], { env });
  assert.equal((await open(["--agent", "1", "--model", "nope", "--amount", "1"])).json[0]?.code, "unknown_model");
  assert.equal((await open(["--agent", "x", "--model", "1", "--amount", "1"])).json[0]?.code, "invalid_parameter");
  assert.equal((await open(["--agent", "1", "--model", "1", "--amount", "-1"])).json[0]?.code, "invalid_parameter");
  const poor = await open(["--agent", "1", "--model", "1", "--amount", "1000"]);
  assert.equal(poor.json[0]?.code, "erc20_insufficient_balance");
  const missing = await runVerity(["channel", "open", "--agent", "1", "--amount", "1", ...flags]);
  assert.match(missing.stderr, /--model is required/);
  const unknown = await runVerity(["channel", "status", `0x${"ab".repeat(32)}`, ...flags, "--json"]);
  assert.equal(unknown.json[0]?.code, "channel_not_found");
  const badId = await runVerity(["channel", "close", "0x1234", ...flags, "--json"], { env });
  assert.equal(badId.json[0]?.code, "invalid_parameter");
});
