import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { type Address, type Hex, keccak256, toHex } from "viem";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { testUSDAbi, testUSDBytecode } from "../generated/index.ts";
import { contractAs, deployErc1271Wallet, deployed, eventsOf, mined, now } from "./helpers.ts";
import {
  type Authorization,
  signAuthorization,
  signCancelAuthorization,
  signPermit as signPermitWith,
  splitSignature,
} from "./signing.ts";

const USD = 10n ** 6n;

describe("TestUSD", () => {
  let chain: TestChain;
  let token: Address;
  let restore: () => Promise<void>;
  let nonceCounter = 0;

  const as = (name: string) => contractAs(chain, testUSDAbi, token, name);
  const addr = (name: string) => chain.account(name).address;
  const key = (name: string) => chain.account(name).privateKey;
  const domain = () => ({ chainId: chain.chain.id, verifyingContract: token });
  const balance = (name: string) => as("deployer").read.balanceOf([addr(name)]);
  const freshNonce = (): Hex => keccak256(toHex(`nonce-${nonceCounter++}`));

  async function authorize(
    by: string,
    overrides: Partial<Authorization> = {},
    primaryType: "TransferWithAuthorization" | "ReceiveWithAuthorization" = "TransferWithAuthorization",
  ) {
    const message: Authorization = {
      from: addr("client-1"),
      to: addr("provider-1"),
      value: 10n * USD,
      validAfter: 0n,
      validBefore: (await now(chain)) + 3600n,
      nonce: freshNonce(),
      ...overrides,
    };
    const signature = await signAuthorization(key(by), domain(), message, primaryType);
    const { r, s, v } = splitSignature(signature);
    const args = [message.from, message.to, message.value, message.validAfter, message.validBefore, message.nonce];
    return {
      message,
      signature,
      vrs: [...args, v, r, s] as unknown as readonly [Address, Address, bigint, bigint, bigint, Hex, number, Hex, Hex],
      bytes: [...args, signature] as unknown as readonly [Address, Address, bigint, bigint, bigint, Hex, Hex],
    };
  }

  const signCancel = (by: string, authorizer: Address, nonce: Hex) =>
    signCancelAuthorization(key(by), domain(), { authorizer, nonce });

  before(async () => {
    chain = await createTestChain();
    token = await deployed(chain, {
      from: "deployer",
      abi: testUSDAbi,
      bytecode: testUSDBytecode,
      args: [addr("deployer"), true],
    });
    await mined(chain, as("deployer").write.mint([addr("client-1"), 1_000n * USD]));
  });
  after(async () => chain.close());
  beforeEach(async () => {
    restore = await chain.snapshot();
  });
  afterEach(async () => restore());

  it("has the agreed metadata and EIP-712 domain", async () => {
    const t = as("deployer");
    assert.equal(await t.read.name(), "Test USD");
    assert.equal(await t.read.symbol(), "TUSD");
    assert.equal(await t.read.decimals(), 6);
    assert.equal(await t.read.owner(), addr("deployer"));
    assert.equal(await t.read.faucetEnabled(), true);
    assert.equal(await t.read.FAUCET_LIMIT(), 1_000_000n * USD);
    const [, name, version, chainId, verifyingContract] = await t.read.eip712Domain();
    assert.deepEqual([name, version, chainId, verifyingContract], ["Test USD", "1", BigInt(chain.chain.id), token]);
  });

  describe("faucet and mint", () => {
    it("faucet mints up to the per-call limit to anyone", async () => {
      await mined(chain, as("client-2").write.faucet([addr("client-3"), 1_000_000n * USD]));
      assert.equal(await balance("client-3"), 1_000_000n * USD);
      await expectRevert(as("client-2").write.faucet([addr("client-3"), 1_000_000n * USD + 1n]), "FaucetLimitExceeded");
    });

    it("faucet reverts FaucetDisabled when deployed without it", async () => {
      const disabled = await deployed(chain, {
        from: "deployer",
        abi: testUSDAbi,
        bytecode: testUSDBytecode,
        args: [addr("deployer"), false],
      });
      const t = contractAs(chain, testUSDAbi, disabled, "client-2");
      assert.equal(await t.read.faucetEnabled(), false);
      await expectRevert(t.write.faucet([addr("client-2"), 1n]), "FaucetDisabled");
    });

    it("mint is owner-only", async () => {
      await mined(chain, as("deployer").write.mint([addr("client-2"), 5n * USD]));
      assert.equal(await balance("client-2"), 5n * USD);
      await expectRevert(as("client-2").write.mint([addr("client-2"), 1n]), "OwnableUnauthorizedAccount");
    });
  });

  describe("EIP-2612 permit", () => {
    async function signPermit(by: string, value: bigint, deadline: bigint, nonce?: bigint) {
      const owner = addr(by);
      const spender = addr("gateway");
      const message = { owner, spender, value, nonce: nonce ?? (await as("deployer").read.nonces([owner])), deadline };
      const { v, r, s } = await signPermitWith(key(by), domain(), message);
      return [owner, spender, value, deadline, v, r, s] as const;
    }

    it("sets the allowance, bumps the nonce and cannot be replayed", async () => {
      const args = await signPermit("client-1", 7n * USD, (await now(chain)) + 600n);
      await mined(chain, as("provider-1").write.permit(args));
      assert.equal(await as("deployer").read.allowance([addr("client-1"), addr("gateway")]), 7n * USD);
      assert.equal(await as("deployer").read.nonces([addr("client-1")]), 1n);
      await expectRevert(as("provider-1").write.permit(args), "ERC2612InvalidSigner");
    });

    it("rejects an expired deadline and a wrong signer", async () => {
      const expired = await signPermit("client-1", 1n, (await now(chain)) - 1n);
      await expectRevert(as("provider-1").write.permit(expired), "ERC2612ExpiredSignature");
      const [, ...rest] = await signPermit("client-2", 1n, (await now(chain)) + 600n, 0n);
      await expectRevert(as("provider-1").write.permit([addr("client-1"), ...rest]), "ERC2612InvalidSigner");
    });
  });

  describe("EIP-3009", () => {
    it("transferWithAuthorization (v, r, s) moves funds once and records the nonce", async () => {
      const auth = await authorize("client-1");
      const receipt = await mined(chain, as("gateway").write.transferWithAuthorization(auth.vrs));
      assert.equal(await balance("provider-1"), 10n * USD);
      assert.equal(await balance("client-1"), 990n * USD);
      const [used] = eventsOf(testUSDAbi, receipt, "AuthorizationUsed");
      assert.deepEqual(used?.args, { authorizer: addr("client-1"), nonce: auth.message.nonce });
      assert.equal(await as("deployer").read.authorizationState([addr("client-1"), auth.message.nonce]), true);
      await expectRevert(as("gateway").write.transferWithAuthorization(auth.vrs), "AuthorizationAlreadyUsed");
      await expectRevert(as("gateway").write.transferWithAuthorization(auth.bytes), "AuthorizationAlreadyUsed");
    });

    it("transferWithAuthorization (bytes signature, as x402 facilitators call it) works", async () => {
      const auth = await authorize("client-1", { value: 3n * USD });
      await mined(chain, as("gateway").write.transferWithAuthorization(auth.bytes));
      assert.equal(await balance("provider-1"), 3n * USD);
    });

    it("accepts ERC-1271 smart-wallet authorizations and cancellations", async () => {
      const wallet = await deployErc1271Wallet(chain, "client-2");
      await mined(chain, as("deployer").write.mint([wallet, 100n * USD]));
      const auth = await authorize("client-2", { from: wallet });
      await mined(chain, as("gateway").write.transferWithAuthorization(auth.bytes));
      assert.equal(await balance("provider-1"), 10n * USD);
      const forged = await authorize("client-3", { from: wallet });
      await expectRevert(as("gateway").write.transferWithAuthorization(forged.bytes), "InvalidAuthorizationSignature");
      const nonce = freshNonce();
      const cancel = await signCancel("client-2", wallet, nonce);
      await mined(chain, as("gateway").write.cancelAuthorization([wallet, nonce, cancel]));
      assert.equal(await as("deployer").read.authorizationState([wallet, nonce]), true);
    });

    it("enforces the validity window", async () => {
      const t = await now(chain);
      const early = await authorize("client-1", { validAfter: t + 1000n, validBefore: t + 2000n });
      await expectRevert(as("gateway").write.transferWithAuthorization(early.vrs), "AuthorizationNotYetValid");
      const late = await authorize("client-1", { validBefore: t });
      await expectRevert(as("gateway").write.transferWithAuthorization(late.bytes), "AuthorizationExpired");
      await chain.increaseTime(1500);
      await mined(chain, as("gateway").write.transferWithAuthorization(early.vrs));
    });

    it("rejects a wrong signer, a tampered message and a receive-typed signature", async () => {
      const wrong = await authorize("client-2");
      await expectRevert(as("gateway").write.transferWithAuthorization(wrong.vrs), "InvalidAuthorizationSignature");
      const auth = await authorize("client-1");
      const [from, , value, after_, before_, nonce, sig] = auth.bytes;
      const redirected = [from, addr("gateway"), value, after_, before_, nonce, sig] as const;
      await expectRevert(as("gateway").write.transferWithAuthorization(redirected), "InvalidAuthorizationSignature");
      const receiveTyped = await authorize("client-1", {}, "ReceiveWithAuthorization");
      await expectRevert(
        as("gateway").write.transferWithAuthorization(receiveTyped.bytes),
        "InvalidAuthorizationSignature",
      );
    });

    it("a failed transfer does not consume the nonce", async () => {
      const auth = await authorize("client-1", { value: 2_000n * USD });
      await expectRevert(as("gateway").write.transferWithAuthorization(auth.vrs), "ERC20InsufficientBalance");
      assert.equal(await as("deployer").read.authorizationState([addr("client-1"), auth.message.nonce]), false);
    });

    it("receiveWithAuthorization works only when the payee submits it (both forms)", async () => {
      const a = await authorize("client-1", {}, "ReceiveWithAuthorization");
      await expectRevert(as("gateway").write.receiveWithAuthorization(a.vrs), "CallerNotPayee");
      await expectRevert(as("gateway").write.receiveWithAuthorization(a.bytes), "CallerNotPayee");
      await mined(chain, as("provider-1").write.receiveWithAuthorization(a.vrs));
      await expectRevert(as("provider-1").write.receiveWithAuthorization(a.bytes), "AuthorizationAlreadyUsed");
      const b = await authorize("client-1", {}, "ReceiveWithAuthorization");
      await mined(chain, as("provider-1").write.receiveWithAuthorization(b.bytes));
      assert.equal(await balance("provider-1"), 20n * USD);
      const transferTyped = await authorize("client-1");
      await expectRevert(
        as("provider-1").write.receiveWithAuthorization(transferTyped.vrs),
        "InvalidAuthorizationSignature",
      );
    });

    it("receiveWithAuthorization checks the window and the signer", async () => {
      const late = await authorize("client-1", { validBefore: await now(chain) }, "ReceiveWithAuthorization");
      await expectRevert(as("provider-1").write.receiveWithAuthorization(late.vrs), "AuthorizationExpired");
      const early = await authorize("client-1", { validAfter: (await now(chain)) + 99n }, "ReceiveWithAuthorization");
      await expectRevert(as("provider-1").write.receiveWithAuthorization(early.bytes), "AuthorizationNotYetValid");
      const wrong = await authorize("client-2", {}, "ReceiveWithAuthorization");
      await expectRevert(as("provider-1").write.receiveWithAuthorization(wrong.bytes), "InvalidAuthorizationSignature");
    });

    it("cancelAuthorization (v, r, s) voids an unused authorization", async () => {
      const auth = await authorize("client-1");
      const signature = await signCancel("client-1", addr("client-1"), auth.message.nonce);
      const { r, s, v } = splitSignature(signature);
      const wrong = await signCancel("client-2", addr("client-1"), auth.message.nonce);
      await expectRevert(
        as("gateway").write.cancelAuthorization([addr("client-1"), auth.message.nonce, wrong]),
        "InvalidAuthorizationSignature",
      );
      const receipt = await mined(
        chain,
        as("gateway").write.cancelAuthorization([addr("client-1"), auth.message.nonce, v, r, s]),
      );
      const [canceled] = eventsOf(testUSDAbi, receipt, "AuthorizationCanceled");
      assert.deepEqual(canceled?.args, { authorizer: addr("client-1"), nonce: auth.message.nonce });
      assert.equal(await as("deployer").read.authorizationState([addr("client-1"), auth.message.nonce]), true);
      await expectRevert(as("gateway").write.transferWithAuthorization(auth.vrs), "AuthorizationAlreadyUsed");
      await expectRevert(
        as("gateway").write.cancelAuthorization([addr("client-1"), auth.message.nonce, signature]),
        "AuthorizationAlreadyUsed",
      );
    });

    it("cancelAuthorization (bytes) works and cannot cancel a used authorization", async () => {
      const auth = await authorize("client-1");
      await mined(chain, as("gateway").write.transferWithAuthorization(auth.bytes));
      const late = await signCancel("client-1", addr("client-1"), auth.message.nonce);
      await expectRevert(
        as("gateway").write.cancelAuthorization([addr("client-1"), auth.message.nonce, late]),
        "AuthorizationAlreadyUsed",
      );
      const other = freshNonce();
      await mined(
        chain,
        as("gateway").write.cancelAuthorization([
          addr("client-1"),
          other,
          await signCancel("client-1", addr("client-1"), other),
        ]),
      );
      assert.equal(await as("deployer").read.authorizationState([addr("client-1"), other]), true);
    });
  });
});
