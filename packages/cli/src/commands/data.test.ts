import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  agentRegistryAbi,
  datasetRegistryAbi,
  modelRegistryAbi,
  paymentChannelsAbi,
  testUSDAbi,
} from "@verity/contracts";
import { voucherDomain, voucherTypes } from "@verity/core";
import { keccak256, maxUint256, parseEventLogs, sha256, stringToHex, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
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

async function send(from: string, request: Parameters<ReturnType<TestNetwork["t"]["wallet"]>["writeContract"]>[0]) {
  const hash = await net.t.wallet(from).writeContract(request as never);
  const receipt = await net.t.publicClient.waitForTransactionReceipt({ hash });
  assert.equal(receipt.status, "success");
  return receipt;
}

/** A real claim on chain: provider-1's agent serves `modelId`, client-1 pays `amount` through a channel. */
async function claimOnChain(modelId: bigint, amount: bigint, salt: number): Promise<void> {
  const c = net.deployment.contracts;
  const token = net.deployment.token.address;
  const client = net.t.account("client-1").address;
  const provider = net.t.account("provider-1").address;
  await send("deployer", { address: token, abi: testUSDAbi, functionName: "mint", args: [client, amount] });
  await send("client-1", {
    address: token,
    abi: testUSDAbi,
    functionName: "approve",
    args: [c.PaymentChannels.address, maxUint256],
  });
  const agentReceipt = await send("provider-1", {
    address: c.AgentRegistry.address,
    abi: agentRegistryAbi,
    functionName: "register",
    args: ["https://agent.example/card.json"],
  });
  const [registered] = parseEventLogs({ abi: agentRegistryAbi, logs: agentReceipt.logs, eventName: "Registered" });
  const config = {
    payer: client,
    payerAuthorizer: client,
    receiverAgentId: registered?.args.agentId ?? 0n,
    modelId,
    token,
    withdrawDelay: BigInt(net.deployment.params.minWithdrawDelay),
    salt: toHex(salt, { size: 32 }),
    receiverSigner: provider,
  };
  await send("client-1", {
    address: c.PaymentChannels.address,
    abi: paymentChannelsAbi,
    functionName: "open",
    args: [config, amount],
  });
  const channelId = await net.t.publicClient.readContract({
    address: c.PaymentChannels.address,
    abi: paymentChannelsAbi,
    functionName: "channelIdOf",
    args: [config],
  });
  const signature = await privateKeyToAccount(net.key("client-1")).signTypedData({
    domain: voucherDomain({ chainId: net.deployment.chainId, verifyingContract: c.PaymentChannels.address }),
    types: voucherTypes,
    primaryType: "Voucher",
    message: { channelId, cumulativeAmount: amount },
  });
  await send("provider-1", {
    address: c.PaymentChannels.address,
    abi: paymentChannelsAbi,
    functionName: "claim",
    args: [[{ config, cumulativeAmount: amount, amount, signature }]],
  });
}

test("data register (by file or digest), model credit-dataset and data earnings after a real claim", async () => {
  const file = join(net.dir, "corpus.jsonl");
  writeFileSync(file, '{"text":"hello"}\n');
  const contributor = { env: { VERITY_KEY: net.key("client-2") } };
  const byFile = await runVerity(
    [
      "data",
      "register",
      "--file",
      file,
      "--licence",
      "ipfs://cc-by",
      "--uri",
      "ipfs://corpus",
      "--share",
      "1000",
    ].concat(chainFlags, ["--json"]),
    contributor,
  );
  assert.equal(byFile.status, 0, byFile.stdout + byFile.stderr);
  const first = byFile.json[0] as Record<string, unknown>;
  assert.equal(first.event, "registered");
  assert.equal(first.datasetId, "1");
  assert.equal(first.digest, sha256(stringToHex('{"text":"hello"}\n')));
  assert.equal(first.owner, net.t.account("client-2").address);
  assert.equal(first.minShareBps, 1000);

  const digest = keccak256(stringToHex("second dataset"));
  const byDigest = await runVerity(["data", "register", "--digest", digest, ...chainFlags, "--json"], {
    env: { VERITY_KEY: net.key("client-3") },
  });
  assert.equal(byDigest.json[0]?.datasetId, "2");
  const taken = await runVerity(["data", "register", "--digest", digest, ...chainFlags, "--json"], contributor);
  assert.equal(taken.status, 1);
  assert.equal(taken.json[0]?.code, "dataset_digest_taken");

  const owner = "modelOwner";
  const modelReceipt = await send(owner, {
    address: net.deployment.contracts.ModelRegistry.address,
    abi: modelRegistryAbi,
    functionName: "registerModel",
    args: [keccak256(stringToHex("w")), keccak256(stringToHex("t")), 500, "", "data-model"],
  });
  const [model] = parseEventLogs({ abi: modelRegistryAbi, logs: modelReceipt.logs, eventName: "ModelRegistered" });
  const modelId = model?.args.modelId ?? 0n;
  const byName = await runVerity(
    ["model", "credit-dataset", "--model", "data-model", "--dataset", "1", "--share", "3000", ...chainFlags],
    { env: { VERITY_KEY: net.key(owner) } },
  );
  assert.match(byName.stdout, /credits dataset 1 with 3000 bps of its royalty \(3000 bps credited in all\)/);
  const credited = await runVerity(
    ["model", "credit-dataset", "--model", `${modelId}`, "--dataset", "2", "--share", "1000", ...chainFlags, "--json"],
    { env: { VERITY_KEY: net.key(owner) } },
  );
  assert.equal(credited.status, 0, credited.stdout + credited.stderr);
  assert.deepEqual(
    [credited.json[0]?.event, credited.json[0]?.modelId, credited.json[0]?.totalShareBps],
    ["credited", `${modelId}`, 4000],
  );

  await claimOnChain(modelId, 1_000_000n, 1);
  // royalty 5% of 1,000,000 = 50,000: dataset 1 gets 30% of it, dataset 2 10%.
  const earnings = await runVerity(["data", "earnings", ...chainFlags, "--json"]);
  assert.equal(earnings.status, 0, earnings.stderr);
  assert.equal(earnings.json[0]?.total, "20000");
  assert.deepEqual(earnings.json[0]?.earnings, [
    { datasetId: "1", to: net.t.account("client-2").address, amount: "15000", payments: 1, modelIds: [`${modelId}`] },
    { datasetId: "2", to: net.t.account("client-3").address, amount: "5000", payments: 1, modelIds: [`${modelId}`] },
  ]);
  const mine = await runVerity(["data", "earnings", "--owner", net.t.account("client-3").address, ...chainFlags]);
  assert.match(mine.stdout, /^\s*2\s+0x[0-9a-fA-F]{40}\s+0\.005\s+1\s/m);
  assert.doesNotMatch(mine.stdout, /^\s*1\s+0x/m);
  const one = await runVerity(["data", "earnings", "--dataset", "1", ...chainFlags, "--json"]);
  assert.equal(one.json[0]?.total, "15000");
});

test("bad input is refused with reason codes and nothing is sent", async () => {
  const env = { env: { VERITY_KEY: net.key("client-4") } };
  const both = await runVerity(
    ["data", "register", "--digest", toHex(1, { size: 32 }), "--file", "x", ...chainFlags, "--json"],
    env,
  );
  assert.equal(both.json[0]?.code, "invalid_parameter");
  const over = await runVerity(
    ["data", "register", "--digest", toHex(5, { size: 32 }), "--share", "10001", ...chainFlags, "--json"],
    env,
  );
  assert.equal(over.json[0]?.code, "dataset_share_too_high");
  const badDigest = await runVerity(["data", "register", "--digest", "0x1234", ...chainFlags, "--json"], env);
  assert.equal(badDigest.json[0]?.code, "invalid_parameter");
  const owner = { env: { VERITY_KEY: net.key("modelOwner") } };
  const credit = (dataset: string, share: string) =>
    runVerity(
      [
        "model",
        "credit-dataset",
        "--model",
        "data-model",
        "--dataset",
        dataset,
        "--share",
        share,
        ...chainFlags,
        "--json",
      ],
      owner,
    );
  assert.equal((await credit("99", "100")).json[0]?.code, "dataset_unknown");
  assert.equal((await credit("1", "2999")).json[0]?.code, "dataset_credit_lowered");
  assert.equal((await credit("1", "9001")).json[0]?.code, "dataset_share_too_high");
  const notOwner = await runVerity(
    ["model", "credit-dataset", "--model", "data-model", "--dataset", "2", "--share", "2000", ...chainFlags, "--json"],
    env,
  );
  assert.equal(notOwner.json[0]?.code, "not_model_owner");
  const count = await net.t.publicClient.readContract({
    address: net.deployment.contracts.DatasetRegistry?.address ?? "0x",
    abi: datasetRegistryAbi,
    functionName: "datasetCount",
  });
  assert.equal(count, 2n, "no dataset was registered by the refused commands");
});
