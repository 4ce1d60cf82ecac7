import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { type Address, type Hex, keccak256, stringToHex, zeroAddress, zeroHash } from "viem";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import {
  agentRegistryAbi,
  agentRegistryBytecode,
  validationRegistryAbi,
  validationRegistryBytecode,
} from "../generated/index.ts";
import { contractAs, deployed, eventsOf, expectDeployRevert, mined, now } from "./helpers.ts";

const AGENT = 1n;
const hashOf = (label: string): Hex => keccak256(stringToHex(label));

describe("ValidationRegistry", () => {
  let chain: TestChain;
  let agents: Address;
  let validation: Address;
  let restore: () => Promise<void>;

  const addr = (name: string) => chain.account(name).address;
  const val = (name: string) => contractAs(chain, validationRegistryAbi, validation, name);

  function request(from: string, validator: string, label: string, agentId = AGENT) {
    return val(from).write.validationRequest([addr(validator), agentId, `ipfs://${label}`, hashOf(label)]);
  }
  function respond(validator: string, label: string, response: number, tag = "") {
    return val(validator).write.validationResponse([hashOf(label), response, "ipfs://evidence", hashOf("e"), tag]);
  }

  before(async () => {
    chain = await createTestChain();
    agents = await deployed(chain, { from: "deployer", abi: agentRegistryAbi, bytecode: agentRegistryBytecode });
    validation = await deployed(chain, {
      from: "deployer",
      abi: validationRegistryAbi,
      bytecode: validationRegistryBytecode,
      args: [agents],
    });
    await mined(chain, contractAs(chain, agentRegistryAbi, agents, "provider-1").write.register(["ipfs://a1"]));
  });
  after(async () => chain.close());
  beforeEach(async () => {
    restore = await chain.snapshot();
  });
  afterEach(async () => restore());

  it("is linked to the agent registry; rejects a zero address", async () => {
    assert.equal(await val("deployer").read.getIdentityRegistry(), agents);
    assert.equal(await val("deployer").read.agentRegistry(), agents);
    await expectDeployRevert(
      chain,
      { abi: validationRegistryAbi, bytecode: validationRegistryBytecode, args: [zeroAddress] },
      "ZeroAddress",
    );
  });

  describe("validationRequest", () => {
    it("records the request, indexes it and emits ValidationRequest", async () => {
      const receipt = await mined(chain, request("provider-1", "validator-1", "job-1"));
      assert.deepEqual(eventsOf(validationRegistryAbi, receipt, "ValidationRequest")[0]?.args, {
        validatorAddress: addr("validator-1"),
        agentId: AGENT,
        requestURI: "ipfs://job-1",
        requestHash: hashOf("job-1"),
      });
      const [validator, agentId, response, responseHash, tag, lastUpdate] = await val(
        "deployer",
      ).read.getValidationStatus([hashOf("job-1")]);
      assert.deepEqual(
        [validator, agentId, response, responseHash, tag],
        [addr("validator-1"), AGENT, 0, zeroHash, ""],
      );
      assert.equal(lastUpdate, await now(chain));
      assert.equal(await val("deployer").read.hasResponse([hashOf("job-1")]), false);
      assert.deepEqual(await val("deployer").read.getAgentValidations([AGENT]), [hashOf("job-1")]);
      assert.deepEqual(await val("deployer").read.getValidatorRequests([addr("validator-1")]), [hashOf("job-1")]);
    });

    it("approved accounts and operators may request; strangers revert NotAgentOwner", async () => {
      const registry = contractAs(chain, agentRegistryAbi, agents, "provider-1");
      await expectRevert(request("provider-2", "validator-1", "job-1"), "NotAgentOwner");
      await mined(chain, registry.write.approve([addr("provider-2"), AGENT]));
      await mined(chain, request("provider-2", "validator-1", "job-1"));
      await mined(chain, registry.write.setApprovalForAll([addr("gateway"), true]));
      await mined(chain, request("gateway", "validator-2", "job-2"));
      assert.equal((await val("deployer").read.getAgentValidations([AGENT])).length, 2);
    });

    it("reverts UnknownAgent, ZeroValidatorAddress and ValidationRequestExists", async () => {
      await expectRevert(request("provider-1", "validator-1", "job-1", 7n), "UnknownAgent");
      await expectRevert(
        val("provider-1").write.validationRequest([zeroAddress, AGENT, "ipfs://x", hashOf("x")]),
        "ZeroValidatorAddress",
      );
      await mined(chain, request("provider-1", "validator-1", "job-1"));
      await expectRevert(request("provider-1", "validator-2", "job-1"), "ValidationRequestExists");
    });
  });

  describe("validationResponse", () => {
    it("the named validator answers, may update, and ValidationResponse is emitted", async () => {
      await mined(chain, request("provider-1", "validator-1", "job-1"));
      const receipt = await mined(chain, respond("validator-1", "job-1", 0, "soft"));
      assert.deepEqual(eventsOf(validationRegistryAbi, receipt, "ValidationResponse")[0]?.args, {
        validatorAddress: addr("validator-1"),
        agentId: AGENT,
        requestHash: hashOf("job-1"),
        response: 0,
        responseURI: "ipfs://evidence",
        responseHash: hashOf("e"),
        tag: "soft",
      });
      assert.equal(await val("deployer").read.hasResponse([hashOf("job-1")]), true);
      await chain.increaseTime(60);
      await mined(chain, respond("validator-1", "job-1", 100, "hard"));
      const [, , response, responseHash, tag, lastUpdate] = await val("deployer").read.getValidationStatus([
        hashOf("job-1"),
      ]);
      assert.deepEqual([response, responseHash, tag, lastUpdate], [100, hashOf("e"), "hard", await now(chain)]);
    });

    it("reverts UnknownValidationRequest, NotRequestedValidator and ResponseOutOfRange", async () => {
      await expectRevert(respond("validator-1", "nope", 50), "UnknownValidationRequest");
      await expectRevert(val("deployer").read.getValidationStatus([hashOf("nope")]), "UnknownValidationRequest");
      await expectRevert(val("deployer").read.hasResponse([hashOf("nope")]), "UnknownValidationRequest");
      await mined(chain, request("provider-1", "validator-1", "job-1"));
      await expectRevert(respond("validator-2", "job-1", 50), "NotRequestedValidator");
      await expectRevert(respond("provider-1", "job-1", 50), "NotRequestedValidator");
      await expectRevert(respond("validator-1", "job-1", 101), "ResponseOutOfRange");
    });
  });

  describe("getSummary", () => {
    it("averages answered requests, filtered by validators and tag", async () => {
      assert.deepEqual(await val("deployer").read.getSummary([AGENT, [], ""]), [0n, 0]);
      await mined(chain, request("provider-1", "validator-1", "a"));
      await mined(chain, request("provider-1", "validator-2", "b"));
      await mined(chain, request("provider-1", "validator-2", "c"));
      await mined(chain, request("provider-1", "validator-3", "unanswered"));
      await mined(chain, respond("validator-1", "a", 100, "tee"));
      await mined(chain, respond("validator-2", "b", 51, "zk"));
      await mined(chain, respond("validator-2", "c", 0, "tee"));
      const summary = (validators: Address[], tag: string) => val("deployer").read.getSummary([AGENT, validators, tag]);
      assert.deepEqual(await summary([], ""), [3n, 50]);
      assert.deepEqual(await summary([], "tee"), [2n, 50]);
      assert.deepEqual(await summary([addr("validator-2")], ""), [2n, 25]);
      assert.deepEqual(await summary([addr("validator-1"), addr("validator-2")], "zk"), [1n, 51]);
      assert.deepEqual(await summary([addr("validator-3")], ""), [0n, 0]);
      assert.deepEqual(await val("deployer").read.getValidatorRequests([addr("validator-2")]), [
        hashOf("b"),
        hashOf("c"),
      ]);
      assert.equal((await val("deployer").read.getAgentValidations([AGENT])).length, 4);
      assert.deepEqual(await val("deployer").read.getAgentValidations([2n]), []);
    });
  });
});
