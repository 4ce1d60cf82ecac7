import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { type Address, keccak256, stringToHex, zeroAddress, zeroHash } from "viem";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import {
  agentRegistryAbi,
  agentRegistryBytecode,
  modelRegistryAbi,
  modelRegistryBytecode,
  paymentChannelsAbi,
  paymentChannelsBytecode,
  reputationRegistryAbi,
  reputationRegistryBytecode,
  testUSDAbi,
  testUSDBytecode,
} from "../generated/index.ts";
import { contractAs, deployed, eventsOf, expectDeployRevert, mined } from "./helpers.ts";
import { signAgentWallet, signVoucher } from "./signing.ts";

const USD = 10n ** 6n;
const AGENT = 1n;

describe("ReputationRegistry", () => {
  let chain: TestChain;
  let token: Address;
  let agents: Address;
  let channels: Address;
  let reputation: Address;
  let restore: () => Promise<void>;
  let salt = 0;

  const addr = (name: string) => chain.account(name).address;
  const rep = (name: string) => contractAs(chain, reputationRegistryAbi, reputation, name);
  const agentsAs = (name: string) => contractAs(chain, agentRegistryAbi, agents, name);

  /**
   * `client` opens a channel to agent 1 and the provider claims `amount` from it (real settlement);
   * the client then shows the paid channel to the registry (`provePayment`).
   */
  async function pay(client: string, amount: bigint, claim = true) {
    const usd = contractAs(chain, testUSDAbi, token, client);
    await mined(chain, usd.write.faucet([addr(client), amount]));
    await mined(chain, usd.write.approve([channels, amount]));
    const pc = contractAs(chain, paymentChannelsAbi, channels, client);
    const config = {
      payer: addr(client),
      payerAuthorizer: addr(client),
      receiverAgentId: AGENT,
      modelId: 1n,
      token,
      withdrawDelay: 3600n,
      salt: keccak256(stringToHex(`salt-${salt++}`)),
      receiverSigner: addr("provider-1"),
    };
    await mined(chain, pc.write.open([config, amount]));
    const channelId = await pc.read.channelIdOf([config]);
    if (!claim) return config;
    // The voucher caps the channel at its deposit; the provider claims what it charged (all of it here).
    const signature = await signVoucher(
      chain.account(client).privateKey,
      { chainId: chain.chain.id, verifyingContract: channels },
      { channelId, cumulativeAmount: amount },
    );
    const claimer = contractAs(chain, paymentChannelsAbi, channels, "provider-1");
    await mined(chain, claimer.write.claim([[{ config, cumulativeAmount: amount, amount, signature }]]));
    await mined(chain, rep(client).write.provePayment([config]));
    return config;
  }

  function feedback(client: string, value: bigint, decimals = 0, tag1 = "starred", tag2 = "") {
    return rep(client).write.giveFeedback([AGENT, value, decimals, tag1, tag2, "https://p1", "ipfs://fb", zeroHash]);
  }

  before(async () => {
    chain = await createTestChain();
    token = await deployed(chain, {
      from: "deployer",
      abi: testUSDAbi,
      bytecode: testUSDBytecode,
      args: [addr("deployer"), true],
    });
    agents = await deployed(chain, { from: "deployer", abi: agentRegistryAbi, bytecode: agentRegistryBytecode });
    const models = await deployed(chain, {
      from: "deployer",
      abi: modelRegistryAbi,
      bytecode: modelRegistryBytecode,
      args: [2_000, agents], // any non-zero address: these tests credit no dataset
    });
    channels = await deployed(chain, {
      from: "deployer",
      abi: paymentChannelsAbi,
      bytecode: paymentChannelsBytecode,
      args: [token, agents, models, addr("treasury"), 100, 60n, 86_400n],
    });
    reputation = await deployed(chain, {
      from: "deployer",
      abi: reputationRegistryAbi,
      bytecode: reputationRegistryBytecode,
      args: [agents, channels],
    });
    await mined(chain, agentsAs("provider-1").write.register(["ipfs://agent-1"]));
    const modelsAs = contractAs(chain, modelRegistryAbi, models, "modelOwner");
    await mined(chain, modelsAs.write.registerModel([keccak256("0x01"), keccak256("0x02"), 500, "", "m"]));
    for (const client of ["client-1", "client-2", "client-3"]) await pay(client, 5n * USD);
  });
  after(async () => chain.close());
  beforeEach(async () => {
    restore = await chain.snapshot();
  });
  afterEach(async () => restore());

  it("is linked to the agent registry and payment channels; rejects zero addresses", async () => {
    assert.equal(await rep("deployer").read.getIdentityRegistry(), agents);
    assert.equal(await rep("deployer").read.agentRegistry(), agents);
    assert.equal(await rep("deployer").read.paymentChannels(), channels);
    const deployment = { abi: reputationRegistryAbi, bytecode: reputationRegistryBytecode };
    await expectDeployRevert(chain, { ...deployment, args: [zeroAddress, channels] }, "ZeroAddress");
    await expectDeployRevert(chain, { ...deployment, args: [agents, zeroAddress] }, "ZeroAddress");
  });

  describe("giveFeedback", () => {
    it("accepts feedback from a client with settled payments and emits NewFeedback", async () => {
      const receipt = await mined(chain, feedback("client-1", 87n, 0, "starred", "chat"));
      const [event] = eventsOf(reputationRegistryAbi, receipt, "NewFeedback");
      assert.deepEqual(event?.args, {
        agentId: AGENT,
        clientAddress: addr("client-1"),
        feedbackIndex: 1n,
        value: 87n,
        valueDecimals: 0,
        indexedTag1: keccak256(stringToHex("starred")),
        tag1: "starred",
        tag2: "chat",
        endpoint: "https://p1",
        feedbackURI: "ipfs://fb",
        feedbackHash: zeroHash,
      });
      assert.deepEqual(await rep("deployer").read.readFeedback([AGENT, addr("client-1"), 1n]), [
        87n,
        0,
        "starred",
        "chat",
        false,
      ]);
      await mined(chain, feedback("client-1", 90n));
      assert.equal(await rep("deployer").read.getLastIndex([AGENT, addr("client-1")]), 2n);
      assert.deepEqual(await rep("deployer").read.getClients([AGENT]), [addr("client-1")]);
    });

    it("reverts NoSettledPayments without a claimed payment (even with an open channel)", async () => {
      await expectRevert(feedback("client-4", 50n), "NoSettledPayments");
      const unclaimed = await pay("client-4", 2n * USD, false);
      await expectRevert(rep("client-4").write.provePayment([unclaimed]), "NoSettledPayments");
      await expectRevert(feedback("client-4", 50n), "NoSettledPayments");
      assert.equal(await rep("deployer").read.hasPaid([AGENT, addr("client-4")]), false);
    });

    it("provePayment accepts only the payer of a paid channel, once", async () => {
      const channel = await pay("client-4", 2n * USD);
      assert.equal(await rep("deployer").read.hasPaid([AGENT, addr("client-4")]), true);
      await expectRevert(rep("client-5").write.provePayment([channel]), "NotChannelPayer");
      // Terms that were never opened (here: the paid channel's, naming another payer) prove nothing.
      await expectRevert(
        rep("client-5").write.provePayment([{ ...channel, payer: addr("client-5") }]),
        "NotChannelPayer",
      );
      await expectRevert(rep("client-5").write.provePayment([{ ...channel, salt: zeroHash }]), "NotChannelPayer");
      const again = await mined(chain, rep("client-4").write.provePayment([channel]));
      assert.equal(eventsOf(reputationRegistryAbi, again, "PaymentProven").length, 0);
      await mined(chain, feedback("client-4", 50n));
    });

    it("reverts SelfFeedbackNotAllowed for the owner, operators and the agent wallet", async () => {
      await expectRevert(feedback("provider-1", 100n), "SelfFeedbackNotAllowed");
      await mined(chain, agentsAs("provider-1").write.approve([addr("client-1"), AGENT]));
      await expectRevert(feedback("client-1", 100n), "SelfFeedbackNotAllowed");
      await mined(chain, agentsAs("provider-1").write.setApprovalForAll([addr("client-2"), true]));
      await expectRevert(feedback("client-2", 100n), "SelfFeedbackNotAllowed");
      const deadline = (await chain.publicClient.getBlock()).timestamp + 600n;
      const proof = await signAgentWallet(
        chain.account("client-3").privateKey,
        { chainId: chain.chain.id, verifyingContract: agents },
        { agentId: AGENT, newWallet: addr("client-3"), owner: addr("provider-1"), deadline },
      );
      await mined(chain, agentsAs("provider-1").write.setAgentWallet([AGENT, addr("client-3"), deadline, proof]));
      await expectRevert(feedback("client-3", 100n), "SelfFeedbackNotAllowed");
    });

    it("reverts UnknownAgent, ValueDecimalsTooLarge and FeedbackValueOutOfRange", async () => {
      const r = rep("client-1");
      await expectRevert(r.write.giveFeedback([9n, 1n, 0, "", "", "", "", zeroHash]), "UnknownAgent");
      await expectRevert(feedback("client-1", 1n, 19), "ValueDecimalsTooLarge");
      await expectRevert(feedback("client-1", 10n ** 20n + 1n, 0), "FeedbackValueOutOfRange");
      await expectRevert(feedback("client-1", -(10n ** 38n) - 1n, 18), "FeedbackValueOutOfRange");
      await mined(chain, feedback("client-1", 10n ** 20n, 0));
      await mined(chain, feedback("client-1", -(10n ** 38n), 18));
    });
  });

  describe("revokeFeedback and responses", () => {
    it("revokes once; FeedbackNotFound for missing entries; FeedbackAlreadyRevoked after", async () => {
      await mined(chain, feedback("client-1", 80n));
      await expectRevert(rep("client-2").write.revokeFeedback([AGENT, 1n]), "FeedbackNotFound");
      await expectRevert(rep("client-1").write.revokeFeedback([AGENT, 0n]), "FeedbackNotFound");
      await expectRevert(rep("client-1").write.revokeFeedback([AGENT, 2n]), "FeedbackNotFound");
      const receipt = await mined(chain, rep("client-1").write.revokeFeedback([AGENT, 1n]));
      assert.deepEqual(eventsOf(reputationRegistryAbi, receipt, "FeedbackRevoked")[0]?.args, {
        agentId: AGENT,
        clientAddress: addr("client-1"),
        feedbackIndex: 1n,
      });
      assert.equal((await rep("deployer").read.readFeedback([AGENT, addr("client-1"), 1n]))[4], true);
      await expectRevert(rep("client-1").write.revokeFeedback([AGENT, 1n]), "FeedbackAlreadyRevoked");
      await expectRevert(rep("deployer").read.readFeedback([AGENT, addr("client-1"), 2n]), "FeedbackNotFound");
    });

    it("appendResponse records responses from anyone; counts filter by client, index and responder", async () => {
      await mined(chain, feedback("client-1", 10n));
      await mined(chain, feedback("client-1", 20n));
      await mined(chain, feedback("client-2", 30n));
      const respond = (who: string, client: string, index: bigint) =>
        mined(chain, rep(who).write.appendResponse([AGENT, addr(client), index, "ipfs://resp", zeroHash]));
      const receipt = await respond("provider-1", "client-1", 1n);
      assert.deepEqual(eventsOf(reputationRegistryAbi, receipt, "ResponseAppended")[0]?.args, {
        agentId: AGENT,
        clientAddress: addr("client-1"),
        feedbackIndex: 1n,
        responder: addr("provider-1"),
        responseURI: "ipfs://resp",
        responseHash: zeroHash,
      });
      await respond("provider-1", "client-1", 1n);
      await respond("validator-1", "client-1", 2n);
      await respond("validator-1", "client-2", 1n);
      const count = (client: Address, index: bigint, responders: Address[]) =>
        rep("deployer").read.getResponseCount([AGENT, client, index, responders]);
      assert.equal(await count(addr("client-1"), 1n, []), 2n);
      assert.equal(await count(addr("client-1"), 0n, []), 3n);
      assert.equal(await count(addr("client-1"), 0n, [addr("validator-1")]), 1n);
      assert.equal(await count(zeroAddress, 0n, []), 4n);
      assert.equal(await count(zeroAddress, 0n, [addr("provider-1")]), 2n);
      const r = rep("provider-1");
      await expectRevert(r.write.appendResponse([AGENT, addr("client-1"), 1n, "", zeroHash]), "EmptyResponseURI");
      await expectRevert(r.write.appendResponse([AGENT, addr("client-3"), 1n, "x", zeroHash]), "FeedbackNotFound");
    });
  });

  describe("getSummary and readAllFeedback", () => {
    it("is zero without matching feedback", async () => {
      assert.deepEqual(await rep("deployer").read.getSummary([AGENT, [], "", ""]), [0n, 0n, 0]);
    });

    it("averages non-revoked feedback, filtering by clients and tags", async () => {
      await mined(chain, feedback("client-1", 80n, 0, "starred", "chat"));
      await mined(chain, feedback("client-2", 90n, 0, "starred", "code"));
      await mined(chain, feedback("client-3", 61n, 0, "starred", "chat"));
      await mined(chain, feedback("client-3", 9977n, 2, "uptime"));
      await mined(chain, feedback("client-1", 0n, 0, "starred", "chat"));
      await mined(chain, rep("client-1").write.revokeFeedback([AGENT, 2n]));
      const summary = (clients: Address[], tag1: string, tag2: string) =>
        rep("deployer").read.getSummary([AGENT, clients, tag1, tag2]);
      assert.deepEqual(await summary([], "starred", ""), [3n, 77n, 0]);
      assert.deepEqual(await summary([], "starred", "chat"), [2n, 70n, 0]);
      assert.deepEqual(await summary([addr("client-2"), addr("client-3")], "starred", ""), [2n, 75n, 0]);
      assert.deepEqual(await summary([], "uptime", ""), [1n, 9977n, 2]);
      assert.deepEqual(await summary([addr("client-4")], "", ""), [0n, 0n, 0]);
      // Mixed decimals: 80, 90, 61, 99.77 -> mean 82.6925, returned at the most common decimals (0).
      assert.deepEqual(await summary([], "", ""), [4n, 82n, 0]);
    });

    it("handles negative values and picks the most common decimals", async () => {
      await mined(chain, feedback("client-1", -32n, 1, "tradingYield"));
      await mined(chain, feedback("client-2", -15n, 1, "tradingYield"));
      await mined(chain, feedback("client-3", 2n, 0, "tradingYield"));
      // (-3.2 - 1.5 + 2) / 3 = -0.9 at 1 decimal.
      assert.deepEqual(await rep("deployer").read.getSummary([AGENT, [], "tradingYield", ""]), [3n, -9n, 1]);
    });

    it("readAllFeedback flattens matching entries, optionally with revoked ones", async () => {
      await mined(chain, feedback("client-1", 80n, 0, "starred", "chat"));
      await mined(chain, feedback("client-1", 70n, 0, "starred", "code"));
      await mined(chain, feedback("client-2", 60n, 0, "reachable"));
      await mined(chain, rep("client-1").write.revokeFeedback([AGENT, 1n]));
      const read = rep("deployer").read;
      assert.deepEqual(await read.readAllFeedback([AGENT, [], "starred", "", false]), [
        [addr("client-1")],
        [2n],
        [70n],
        [0],
        ["starred"],
        ["code"],
        [false],
      ]);
      const all = await read.readAllFeedback([AGENT, [], "", "", true]);
      assert.deepEqual(all[0], [addr("client-1"), addr("client-1"), addr("client-2")]);
      assert.deepEqual(all[6], [true, false, false]);
      const only2 = await read.readAllFeedback([AGENT, [addr("client-2")], "", "", true]);
      assert.deepEqual(only2[2], [60n]);
    });
  });
});
