import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, test } from "node:test";
import { channelConfigOf } from "@verity/chain/testing";
import {
  agentRegistryAbi,
  gatewayDepositsAbi,
  modelRegistryAbi,
  paymentChannelsAbi,
  testUSDAbi,
  testUSDBytecode,
} from "@verity/contracts";
import {
  type Abi,
  type Address,
  concat,
  encodeAbiParameters,
  encodeEventTopics,
  type Hex,
  keccak256,
  maxUint256,
  parseEventLogs,
  parseSignature,
  toHex,
} from "viem";
import { mintTestUSD, openTestChannel } from "../../provider/src/testing.ts";
import { createDepositScene, type DepositScene } from "./deposit-watcher-scene.ts";
import { depositToGateway } from "./testing.ts";

let s: DepositScene;
beforeEach(async () => {
  s = await createDepositScene();
});
afterEach(async () => {
  await s.close();
});

const address = (name: string) => s.t.account(name).address;
const ZERO = "0x0000000000000000000000000000000000000000" as const;

async function mined(hash: Promise<Hex>) {
  const receipt = await s.t.publicClient.waitForTransactionReceipt({ hash: await hash });
  assert.equal(receipt.status, "success");
  return receipt;
}

async function tokenBalance(owner: Address, token: Address = s.deployment.token.address): Promise<bigint> {
  return s.t.publicClient.readContract({ address: token, abi: testUSDAbi, functionName: "balanceOf", args: [owner] });
}

/** Scans and asserts that nobody was credited anything: no balance and no ledger entry for any of `who`. */
async function assertNothingCredited(who: Address[]): Promise<void> {
  await s.watcher().scan();
  for (const owner of [...who, s.gateway, ZERO]) {
    assert.equal(await s.ledger.balanceOf(owner), 0n, `${owner} was credited`);
    assert.deepEqual(await s.ledger.entries(owner), [], `${owner} has ledger entries`);
  }
}

test("attack: a plain token transfer to the gateway is not a deposit", async () => {
  await mintTestUSD(s.t, s.deployment, "client-1", 9_000_000n);
  await mined(
    s.t.wallet("client-1").writeContract({
      address: s.deployment.token.address,
      abi: testUSDAbi,
      functionName: "transfer",
      args: [s.gateway, 9_000_000n],
    }),
  );
  assert.equal(await tokenBalance(s.gateway), 9_000_000n, "the gateway did receive the tokens");
  await assertNothingCredited([address("client-1")]);
});

test("attack: an x402 settlement received by the gateway is not credited as a deposit", async () => {
  // What an x402 `exact` payment settles as: an EIP-3009 transferWithAuthorization from the payer to
  // the gateway, signed by the payer and submitted by the gateway (its own facilitator).
  await mintTestUSD(s.t, s.deployment, "client-1", 2_000_000n);
  const latest = await s.t.publicClient.getBlock();
  const message = {
    from: address("client-1"),
    to: s.gateway,
    value: 2_000_000n,
    validAfter: 0n,
    validBefore: latest.timestamp + 600n,
    nonce: toHex(randomBytes(32)),
  };
  const signature = await s.t.wallet("client-1").signTypedData({
    domain: {
      name: s.deployment.token.name,
      version: s.deployment.token.version,
      chainId: s.deployment.chainId,
      verifyingContract: s.deployment.token.address,
    },
    types: {
      TransferWithAuthorization: [
        { name: "from", type: "address" },
        { name: "to", type: "address" },
        { name: "value", type: "uint256" },
        { name: "validAfter", type: "uint256" },
        { name: "validBefore", type: "uint256" },
        { name: "nonce", type: "bytes32" },
      ],
    },
    primaryType: "TransferWithAuthorization",
    message,
  });
  const { v, r, s: sigS, yParity } = parseSignature(signature);
  await mined(
    s.t.wallet("gateway").writeContract({
      address: s.deployment.token.address,
      abi: testUSDAbi,
      functionName: "transferWithAuthorization",
      args: [
        message.from,
        message.to,
        message.value,
        message.validAfter,
        message.validBefore,
        message.nonce,
        Number(v ?? BigInt(yParity + 27)),
        r,
        sigS,
      ],
    }),
  );
  assert.equal(await tokenBalance(s.gateway), 2_000_000n, "the settlement reached the gateway");
  await assertNothingCredited([address("client-1")]);
});

test("attack: a refund paid to the gateway is not credited", async () => {
  // The gateway, as a payer, opens a channel to a provider and withdraws it: PaymentChannels refunds
  // the unclaimed escrow to the gateway's address.
  const agent = await mined(
    s.t.wallet("provider-1").writeContract({
      address: s.deployment.contracts.AgentRegistry.address,
      abi: agentRegistryAbi,
      functionName: "register",
      args: ["https://provider.example/agent.json"],
    }),
  );
  const [registered] = parseEventLogs({ abi: agentRegistryAbi as Abi, logs: agent.logs, eventName: "Registered" }) as {
    args: { agentId: bigint };
  }[];
  assert.ok(registered);
  await mined(
    s.t.wallet("modelOwner").writeContract({
      address: s.deployment.contracts.ModelRegistry.address,
      abi: modelRegistryAbi,
      functionName: "registerModel",
      args: [keccak256(toHex("weights")), keccak256(toHex("tokenizer")), 500, "https://example.org/licence", "m"],
    }),
  );
  const modelId = await s.t.publicClient.readContract({
    address: s.deployment.contracts.ModelRegistry.address,
    abi: modelRegistryAbi,
    functionName: "modelIdOf",
    args: [keccak256(toHex("weights")), keccak256(toHex("tokenizer"))],
  });
  const channelId = await openTestChannel({
    t: s.t,
    deployment: s.deployment,
    payer: "gateway",
    agentId: registered.args.agentId,
    modelId,
    amount: 3_000_000n,
  });
  const channels = s.deployment.contracts.PaymentChannels.address;
  const gateway = s.t.wallet("gateway");
  await mined(
    gateway.writeContract({
      address: channels,
      abi: paymentChannelsAbi,
      functionName: "initiateWithdraw",
      args: [
        await channelConfigOf({ publicClient: s.t.publicClient, paymentChannels: channels, channelId: channelId }),
      ],
    }),
  );
  await s.t.increaseTime(3_601);
  const before = await tokenBalance(s.gateway);
  await mined(
    gateway.writeContract({
      address: channels,
      abi: paymentChannelsAbi,
      functionName: "finalizeWithdraw",
      args: [
        await channelConfigOf({ publicClient: s.t.publicClient, paymentChannels: channels, channelId: channelId }),
      ],
    }),
  );
  assert.equal((await tokenBalance(s.gateway)) - before, 3_000_000n, "the refund reached the gateway");
  await assertNothingCredited([channels, address("provider-1")]);
});

test("attack: a mint to the gateway is not credited", async () => {
  await mintTestUSD(s.t, s.deployment, "gateway", 50_000_000n);
  await mined(
    s.t.wallet("client-1").writeContract({
      address: s.deployment.token.address,
      abi: testUSDAbi,
      functionName: "faucet",
      args: [s.gateway, 1_000_000n],
    }),
  );
  assert.equal(await tokenBalance(s.gateway), 51_000_000n);
  await assertNothingCredited([address("deployer"), address("client-1")]);
});

test("attack: a deposit event from another contract (a look-alike emitting Deposited) is not credited", async () => {
  // A contract that emits whatever log its calldata holds: here a perfect `Deposited` for the
  // attacker's account, with no tokens moved at all.
  // calldata → memory; LOG4(offset 0x80, size 0x40, topics at 0x00, 0x20, 0x40, 0x60); STOP
  const runtime: Hex = "0x36600060003760605160405160205160005160406080a400";
  const runtimeLength = (runtime.length - 2) / 2;
  const init = concat([`0x60${runtimeLength.toString(16).padStart(2, "0")}80600b6000396000f3`, runtime]);
  const hash = await s.t.wallet("client-1").sendTransaction({ data: init });
  const receipt = await s.t.publicClient.waitForTransactionReceipt({ hash });
  const lookAlike = receipt.contractAddress;
  assert.ok(lookAlike);
  const topics = encodeEventTopics({
    abi: gatewayDepositsAbi,
    eventName: "Deposited",
    args: { gateway: s.gateway, account: address("client-1"), from: address("client-1") },
  }) as Hex[];
  const data = encodeAbiParameters(
    [{ type: "address" }, { type: "uint256" }],
    [s.deployment.token.address, 1_000_000_000n],
  );
  const forged = await mined(
    s.t.wallet("client-1").sendTransaction({ to: lookAlike, data: concat([...topics, data]) }),
  );
  const [event] = parseEventLogs({ abi: gatewayDepositsAbi, logs: forged.logs, eventName: "Deposited" });
  assert.equal(event?.args.gateway, s.gateway, "the look-alike's log decodes as a Deposited for this gateway");
  assert.equal(event?.args.amount, 1_000_000_000n);
  await assertNothingCredited([address("client-1")]);

  // A real deposit in the same range still credits: the watcher was looking.
  await depositToGateway({ t: s.t, deployment: s.deployment, account: "client-2", gateway: s.gateway, amount: 1n });
  await s.watcher().scan();
  assert.equal(await s.ledger.balanceOf(address("client-2")), 1n);
  assert.equal(await s.ledger.balanceOf(address("client-1")), 0n);
});

test("attack: a deposit for another gateway is not credited here", async () => {
  const other = address("client-3");
  await depositToGateway({ t: s.t, deployment: s.deployment, account: "client-1", gateway: other, amount: 4_000_000n });
  assert.equal(await tokenBalance(other), 4_000_000n, "the other gateway received it");
  await assertNothingCredited([address("client-1")]);
});

test("attack: a deposit of another token through GatewayDeposits is not credited", async () => {
  const fake = await s.t.deploy({
    from: "client-1",
    abi: testUSDAbi,
    bytecode: testUSDBytecode,
    args: [address("client-1"), false],
  });
  await mined(
    s.t.wallet("client-1").writeContract({
      address: fake,
      abi: testUSDAbi,
      functionName: "mint",
      args: [address("client-1"), 8_000_000n],
    }),
  );
  const contract = s.deployment.contracts.GatewayDeposits?.address;
  assert.ok(contract);
  await mined(
    s.t.wallet("client-1").writeContract({
      address: fake,
      abi: testUSDAbi,
      functionName: "approve",
      args: [contract, maxUint256],
    }),
  );
  await mined(
    s.t.wallet("client-1").writeContract({
      address: contract,
      abi: gatewayDepositsAbi,
      functionName: "deposit",
      args: [fake, s.gateway, address("client-1"), 8_000_000n],
    }),
  );
  assert.equal(await tokenBalance(s.gateway, fake), 8_000_000n, "the worthless token reached the gateway");
  await assertNothingCredited([address("client-1")]);
});
