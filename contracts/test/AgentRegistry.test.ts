import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { type Address, type Hex, stringToHex, zeroAddress } from "viem";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { agentRegistryAbi, agentRegistryBytecode } from "../generated/index.ts";
import { contractAs, deployErc1271Wallet, deployed, eventsOf, mined, now } from "./helpers.ts";
import { signAgentWallet } from "./signing.ts";

describe("AgentRegistry", () => {
  let chain: TestChain;
  let registry: Address;
  let restore: () => Promise<void>;

  const as = (name: string) => contractAs(chain, agentRegistryAbi, registry, name);
  const addr = (name: string) => chain.account(name).address;

  /** EIP-712 proof, signed by devnet account `signerName`, that `wallet` accepts to be the wallet of `agentId`. */
  function walletProof(signerName: string, agentId: bigint, wallet: Address, owner: Address, deadline: bigint) {
    return signAgentWallet(
      chain.account(signerName).privateKey,
      { chainId: chain.chain.id, verifyingContract: registry },
      { agentId, newWallet: wallet, owner, deadline },
    );
  }

  /** Sets `provider-2` as the wallet of agent 1 (owned by provider-1). */
  async function setWallet(): Promise<{ deadline: bigint; signature: Hex }> {
    const deadline = (await now(chain)) + 600n;
    const signature = await walletProof("provider-2", 1n, addr("provider-2"), addr("provider-1"), deadline);
    await mined(chain, as("provider-1").write.setAgentWallet([1n, addr("provider-2"), deadline, signature]));
    return { deadline, signature };
  }

  before(async () => {
    chain = await createTestChain();
    registry = await deployed(chain, { from: "deployer", abi: agentRegistryAbi, bytecode: agentRegistryBytecode });
    await mined(chain, as("provider-1").write.register(["ipfs://agent-1"]));
  });
  after(async () => chain.close());
  beforeEach(async () => {
    restore = await chain.snapshot();
  });
  afterEach(async () => restore());

  describe("registration", () => {
    it("has the agreed name, symbol and EIP-712 domain", async () => {
      assert.equal(await as("deployer").read.name(), "Verity Agent");
      assert.equal(await as("deployer").read.symbol(), "AGENT");
      const [, name, version, chainId, verifyingContract] = await as("deployer").read.eip712Domain();
      assert.deepEqual(
        [name, version, chainId, verifyingContract],
        ["Verity AgentRegistry", "1", BigInt(chain.chain.id), registry],
      );
    });

    it("register(agentURI) mints id 1 to the caller", async () => {
      assert.equal(await as("deployer").read.ownerOf([1n]), addr("provider-1"));
      assert.equal(await as("deployer").read.tokenURI([1n]), "ipfs://agent-1");
      assert.equal(await as("deployer").read.agentCount(), 1n);
      assert.equal(await as("deployer").read.getAgentWallet([1n]), zeroAddress);
    });

    it("register() mints the next id without a URI and emits Registered", async () => {
      const receipt = await mined(chain, as("provider-3").write.register());
      const [registered] = eventsOf(agentRegistryAbi, receipt, "Registered");
      assert.deepEqual(registered?.args, { agentId: 2n, agentURI: "", owner: addr("provider-3") });
      assert.equal(await as("deployer").read.ownerOf([2n]), addr("provider-3"));
      assert.equal(await as("deployer").read.tokenURI([2n]), "");
    });

    it("register(agentURI, metadata) stores every entry and emits MetadataSet", async () => {
      const metadata = [
        { metadataKey: "endpoint", metadataValue: stringToHex("https://p3.example") },
        { metadataKey: "region", metadataValue: stringToHex("eu") },
      ];
      const receipt = await mined(chain, as("provider-3").write.register(["ipfs://agent-2", metadata]));
      const events = eventsOf(agentRegistryAbi, receipt, "MetadataSet");
      assert.deepEqual(
        events.map((e) => [e.args.agentId, e.args.metadataKey, e.args.metadataValue]),
        metadata.map((m) => [2n, m.metadataKey, m.metadataValue]),
      );
      assert.equal(await as("deployer").read.getMetadata([2n, "region"]), stringToHex("eu"));
      assert.equal(await as("deployer").read.getMetadata([2n, "unset"]), "0x");
    });

    it("register with the reserved agentWallet key reverts ReservedMetadataKey", async () => {
      const metadata = [{ metadataKey: "agentWallet", metadataValue: addr("provider-3") }];
      await expectRevert(as("provider-3").write.register(["ipfs://x", metadata]), "ReservedMetadataKey");
    });
  });

  describe("URI, metadata and authorization", () => {
    it("owner, approved account and operator may set the URI; others revert NotAgentOwner", async () => {
      const receipt = await mined(chain, as("provider-1").write.setAgentURI([1n, "ipfs://v2"]));
      const [updated] = eventsOf(agentRegistryAbi, receipt, "URIUpdated");
      assert.deepEqual(updated?.args, { agentId: 1n, newURI: "ipfs://v2", updatedBy: addr("provider-1") });
      await expectRevert(as("provider-2").write.setAgentURI([1n, "ipfs://evil"]), "NotAgentOwner");
      await mined(chain, as("provider-1").write.approve([addr("provider-2"), 1n]));
      await mined(chain, as("provider-2").write.setAgentURI([1n, "ipfs://v3"]));
      await mined(chain, as("provider-1").write.setApprovalForAll([addr("gateway"), true]));
      await mined(chain, as("gateway").write.setAgentURI([1n, "ipfs://v4"]));
      assert.equal(await as("deployer").read.tokenURI([1n]), "ipfs://v4");
      await expectRevert(as("provider-1").write.setAgentURI([9n, "ipfs://none"]), "ERC721NonexistentToken");
    });

    it("setMetadata is owner/operator-only and refuses the reserved key", async () => {
      const receipt = await mined(chain, as("provider-1").write.setMetadata([1n, "model", "0x1234"]));
      assert.equal(eventsOf(agentRegistryAbi, receipt, "MetadataSet")[0]?.args.metadataKey, "model");
      assert.equal(await as("deployer").read.getMetadata([1n, "model"]), "0x1234");
      await expectRevert(as("provider-2").write.setMetadata([1n, "model", "0x"]), "NotAgentOwner");
      await expectRevert(as("provider-1").write.setMetadata([1n, "agentWallet", "0x"]), "ReservedMetadataKey");
    });

    it("isAuthorized is true for owner, approved and operator only", async () => {
      const r = as("deployer");
      assert.equal(await r.read.isAuthorized([1n, addr("provider-1")]), true);
      assert.equal(await r.read.isAuthorized([1n, addr("provider-2")]), false);
      await mined(chain, as("provider-1").write.approve([addr("provider-2"), 1n]));
      await mined(chain, as("provider-1").write.setApprovalForAll([addr("gateway"), true]));
      assert.equal(await r.read.isAuthorized([1n, addr("provider-2")]), true);
      assert.equal(await r.read.isAuthorized([1n, addr("gateway")]), true);
      assert.equal(await r.read.isAuthorized([2n, addr("provider-1")]), false);
      assert.equal(await r.read.isAuthorized([1n, zeroAddress]), false);
    });
  });

  describe("agent wallet", () => {
    it("setAgentWallet with a valid proof sets it (readable via getMetadata too)", async () => {
      const deadline = (await now(chain)) + 600n;
      const signature = await walletProof("provider-2", 1n, addr("provider-2"), addr("provider-1"), deadline);
      const receipt = await mined(
        chain,
        as("provider-1").write.setAgentWallet([1n, addr("provider-2"), deadline, signature]),
      );
      assert.deepEqual(eventsOf(agentRegistryAbi, receipt, "AgentWalletSet")[0]?.args, {
        agentId: 1n,
        wallet: addr("provider-2"),
      });
      assert.equal(await as("deployer").read.getAgentWallet([1n]), addr("provider-2"));
      const raw = await as("deployer").read.getMetadata([1n, "agentWallet"]);
      assert.equal(raw, addr("provider-2").toLowerCase());
    });

    it("an operator may set the wallet; the proof still binds the owner", async () => {
      await mined(chain, as("provider-1").write.setApprovalForAll([addr("gateway"), true]));
      const deadline = (await now(chain)) + 600n;
      const forOperator = await walletProof("provider-2", 1n, addr("provider-2"), addr("gateway"), deadline);
      await expectRevert(
        as("gateway").write.setAgentWallet([1n, addr("provider-2"), deadline, forOperator]),
        "InvalidWalletSignature",
      );
      const forOwner = await walletProof("provider-2", 1n, addr("provider-2"), addr("provider-1"), deadline);
      await mined(chain, as("gateway").write.setAgentWallet([1n, addr("provider-2"), deadline, forOwner]));
    });

    it("rejects an expired deadline, a wrong signer, the zero wallet and strangers", async () => {
      const t = await now(chain);
      const expired = await walletProof("provider-2", 1n, addr("provider-2"), addr("provider-1"), t - 1n);
      await expectRevert(
        as("provider-1").write.setAgentWallet([1n, addr("provider-2"), t - 1n, expired]),
        "SignatureExpired",
      );
      const byOwner = await walletProof("provider-1", 1n, addr("provider-2"), addr("provider-1"), t + 600n);
      await expectRevert(
        as("provider-1").write.setAgentWallet([1n, addr("provider-2"), t + 600n, byOwner]),
        "InvalidWalletSignature",
      );
      const otherAgent = await walletProof("provider-2", 2n, addr("provider-2"), addr("provider-1"), t + 600n);
      await expectRevert(
        as("provider-1").write.setAgentWallet([1n, addr("provider-2"), t + 600n, otherAgent]),
        "InvalidWalletSignature",
      );
      await expectRevert(as("provider-1").write.setAgentWallet([1n, zeroAddress, t + 600n, "0x"]), "ZeroAgentWallet");
      const good = await walletProof("provider-2", 1n, addr("provider-2"), addr("provider-1"), t + 600n);
      await expectRevert(
        as("provider-3").write.setAgentWallet([1n, addr("provider-2"), t + 600n, good]),
        "NotAgentOwner",
      );
    });

    it("accepts an ERC-1271 smart wallet's proof", async () => {
      const wallet = await deployErc1271Wallet(chain, "provider-2");
      const deadline = (await now(chain)) + 600n;
      const signature = await walletProof("provider-2", 1n, wallet, addr("provider-1"), deadline);
      await mined(chain, as("provider-1").write.setAgentWallet([1n, wallet, deadline, signature]));
      assert.equal(await as("deployer").read.getAgentWallet([1n]), wallet);
      const forged = await walletProof("provider-3", 1n, wallet, addr("provider-1"), deadline);
      await expectRevert(
        as("provider-1").write.setAgentWallet([1n, wallet, deadline, forged]),
        "InvalidWalletSignature",
      );
    });

    it("is cleared on transfer, and the old proof cannot be replayed by the new owner", async () => {
      const { deadline, signature } = await setWallet();
      const receipt = await mined(
        chain,
        as("provider-1").write.transferFrom([addr("provider-1"), addr("provider-3"), 1n]),
      );
      assert.deepEqual(eventsOf(agentRegistryAbi, receipt, "AgentWalletUnset")[0]?.args, { agentId: 1n });
      assert.equal(await as("deployer").read.getAgentWallet([1n]), zeroAddress);
      assert.equal(await as("deployer").read.getMetadata([1n, "agentWallet"]), "0x");
      await expectRevert(
        as("provider-3").write.setAgentWallet([1n, addr("provider-2"), deadline, signature]),
        "InvalidWalletSignature",
      );
    });

    it("a transfer without a wallet set emits no AgentWalletUnset", async () => {
      const receipt = await mined(
        chain,
        as("provider-1").write.transferFrom([addr("provider-1"), addr("provider-3"), 1n]),
      );
      assert.equal(eventsOf(agentRegistryAbi, receipt, "AgentWalletUnset").length, 0);
      assert.equal(await as("deployer").read.ownerOf([1n]), addr("provider-3"));
    });

    it("unsetAgentWallet clears it; owner/operator only; AgentWalletNotSet when none", async () => {
      await setWallet();
      await expectRevert(as("provider-2").write.unsetAgentWallet([1n]), "NotAgentOwner");
      const receipt = await mined(chain, as("provider-1").write.unsetAgentWallet([1n]));
      assert.deepEqual(eventsOf(agentRegistryAbi, receipt, "AgentWalletUnset")[0]?.args, { agentId: 1n });
      assert.equal(await as("deployer").read.getAgentWallet([1n]), zeroAddress);
      await expectRevert(as("provider-1").write.unsetAgentWallet([1n]), "AgentWalletNotSet");
    });

    it("getAgentWallet reverts for an agent that does not exist", async () => {
      await expectRevert(as("deployer").read.getAgentWallet([5n]), "ERC721NonexistentToken");
    });
  });
});
