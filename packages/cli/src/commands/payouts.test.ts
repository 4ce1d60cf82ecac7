/**
 * `verity provider withdraw` and `verity model withdraw-royalties` on a real chain: a claim credits
 * the provider's share to the agent and the royalty to the model owner; the commands pay them out
 * once (a second run finds nothing), to the agent's wallet and to where the owner names.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { agentRegistryAbi, modelRegistryAbi, testUSDAbi } from "@verity/contracts";
import { keccak256, parseEventLogs, toHex } from "viem";
import { claimTestChannel, openTestChannel } from "../../../provider/src/testing.ts";
import { runVerity, startTestNetwork, type TestNetwork } from "../cli-testing.ts";

let net: TestNetwork;
let chainFlags: string[];
let agentId: bigint;

before(async () => {
  net = await startTestNetwork();
  chainFlags = ["--rpc", net.rpcUrl, "--deployment", net.deploymentFile];
  const { t, deployment } = net;
  const registered = await t.publicClient.waitForTransactionReceipt({
    hash: await t.wallet("provider-1").writeContract({
      address: deployment.contracts.AgentRegistry.address,
      abi: agentRegistryAbi,
      functionName: "register",
      args: ["https://p1.example/agent.json"],
    }),
  });
  agentId = parseEventLogs({ abi: agentRegistryAbi, logs: registered.logs, eventName: "Registered" })[0]!.args.agentId;
  const weights = keccak256(toHex("payout-weights"));
  const tokenizer = keccak256(toHex("payout-tokenizer"));
  await t.publicClient.waitForTransactionReceipt({
    hash: await t.wallet("modelOwner").writeContract({
      address: deployment.contracts.ModelRegistry.address,
      abi: modelRegistryAbi,
      functionName: "registerModel",
      args: [weights, tokenizer, 500, "", "payout-model"],
    }),
  });
  const modelId = await t.publicClient.readContract({
    address: deployment.contracts.ModelRegistry.address,
    abi: modelRegistryAbi,
    functionName: "modelIdOf",
    args: [weights, tokenizer],
  });
  const channelId = await openTestChannel({ t, deployment, payer: "client-1", agentId, modelId, amount: 100_000n });
  await claimTestChannel({ t, deployment, payer: "client-1", claimer: "provider-1", channelId, amount: 10_000n });
});
after(async () => {
  await net?.close();
});

const balanceOf = (name: string) =>
  net.t.publicClient.readContract({
    address: net.deployment.token.address,
    abi: testUSDAbi,
    functionName: "balanceOf",
    args: [net.t.account(name).address],
  });

test("provider withdraw pays the agent's credited earnings once; a stranger's key is refused", async () => {
  const args = ["provider", "withdraw", "--agent-id", agentId.toString(), ...chainFlags, "--json"];
  const stranger = await runVerity(args, { env: { VERITY_KEY: net.key("validator-1") } });
  assert.equal(stranger.status, 1, stranger.stdout + stranger.stderr);
  assert.equal(stranger.json[0]?.code, "not_agent_receiver");

  const before = await balanceOf("provider-1");
  const paid = await runVerity(args, { env: { VERITY_KEY: net.key("provider-1") } });
  assert.equal(paid.status, 0, paid.stdout + paid.stderr);
  assert.deepEqual(
    [paid.json[0]?.event, paid.json[0]?.amount, paid.json[0]?.to],
    ["withdrawn", "9400", net.t.account("provider-1").address],
  );
  assert.equal(await balanceOf("provider-1"), before + 9_400n);

  const again = await runVerity(args, { env: { VERITY_KEY: net.key("provider-1") } });
  assert.equal(again.status, 0);
  assert.deepEqual([again.json[0]?.event, again.json[0]?.amount], ["nothing_to_withdraw", "0"]);
});

test("model withdraw-royalties pays the owner's credited royalties to --to, once", async () => {
  const args = ["model", "withdraw-royalties", "--to", net.t.account("validator-2").address, ...chainFlags, "--json"];
  const before = await balanceOf("validator-2");
  const paid = await runVerity(args, { env: { VERITY_KEY: net.key("modelOwner") } });
  assert.equal(paid.status, 0, paid.stdout + paid.stderr);
  assert.deepEqual([paid.json[0]?.event, paid.json[0]?.amount], ["withdrawn", "500"]);
  assert.equal(await balanceOf("validator-2"), before + 500n);
  const again = await runVerity(args, { env: { VERITY_KEY: net.key("modelOwner") } });
  assert.deepEqual([again.status, again.json[0]?.event], [0, "nothing_to_withdraw"]);
});
