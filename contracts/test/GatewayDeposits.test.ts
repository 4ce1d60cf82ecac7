import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { type Address, maxUint256, zeroAddress } from "viem";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { gatewayDepositsAbi, gatewayDepositsBytecode, testUSDAbi, testUSDBytecode } from "../generated/index.ts";
import { contractAs, deployed, eventsOf, mined, now } from "./helpers.ts";
import { signPermit } from "./signing.ts";

const USD = 10n ** 6n;
/** GatewayDeposits with the token's errors, so a revert inside the token's transferFrom decodes. */
const depositsAbi = [...gatewayDepositsAbi, ...testUSDAbi.filter((item) => item.type === "error")] as const;

describe("GatewayDeposits", () => {
  let chain: TestChain;
  let token: Address;
  let deposits: Address;
  let restore: () => Promise<void>;

  const addr = (name: string) => chain.account(name).address;
  const tokenAs = (name: string) => contractAs(chain, testUSDAbi, token, name);
  const as = (name: string) => contractAs(chain, depositsAbi, deposits, name);
  const balance = (owner: Address) => tokenAs("deployer").read.balanceOf([owner]);

  before(async () => {
    chain = await createTestChain();
    token = await deployed(chain, {
      from: "deployer",
      abi: testUSDAbi,
      bytecode: testUSDBytecode,
      args: [addr("deployer"), false],
    });
    deposits = await deployed(chain, { from: "deployer", abi: gatewayDepositsAbi, bytecode: gatewayDepositsBytecode });
    await mined(chain, tokenAs("deployer").write.mint([addr("client-1"), 100n * USD]));
  });
  after(async () => chain.close());
  beforeEach(async () => {
    restore = await chain.snapshot();
  });
  afterEach(async () => restore());

  it("deposit pulls the amount from the caller straight to the gateway and names the account to credit", async () => {
    await mined(chain, tokenAs("client-1").write.approve([deposits, maxUint256]));
    const receipt = await mined(
      chain,
      as("client-1").write.deposit([token, addr("gateway"), addr("client-2"), 7n * USD]),
    );
    assert.equal(await balance(addr("gateway")), 7n * USD);
    assert.equal(await balance(addr("client-1")), 93n * USD);
    assert.equal(await balance(deposits), 0n, "the contract never holds tokens");
    const [event] = eventsOf(gatewayDepositsAbi, receipt, "Deposited");
    assert.deepEqual(event?.args, {
      gateway: addr("gateway"),
      account: addr("client-2"),
      from: addr("client-1"),
      token,
      amount: 7n * USD,
    });
  });

  it("depositWithPermit deposits in one transaction without an allowance", async () => {
    const deadline = (await now(chain)) + 600n;
    const { v, r, s } = await signPermit(
      chain.account("client-1").privateKey,
      { chainId: chain.chain.id, verifyingContract: token },
      { owner: addr("client-1"), spender: deposits, value: 5n * USD, nonce: 0n, deadline },
    );
    const receipt = await mined(
      chain,
      as("client-1").write.depositWithPermit([token, addr("gateway"), addr("client-1"), 5n * USD, deadline, v, r, s]),
    );
    assert.equal(await balance(addr("gateway")), 5n * USD);
    assert.equal(eventsOf(gatewayDepositsAbi, receipt, "Deposited")[0]?.args.account, addr("client-1"));
    assert.equal(await tokenAs("deployer").read.allowance([addr("client-1"), deposits]), 0n);
    // The same permit again: it is ignored and, without an allowance, the transfer reverts.
    await expectRevert(
      as("client-1").write.depositWithPermit([token, addr("gateway"), addr("client-1"), 5n * USD, deadline, v, r, s]),
      "ERC20InsufficientAllowance",
    );
  });

  it("a permit someone else submitted first does not block the deposit", async () => {
    const deadline = (await now(chain)) + 600n;
    const { v, r, s } = await signPermit(
      chain.account("client-1").privateKey,
      { chainId: chain.chain.id, verifyingContract: token },
      { owner: addr("client-1"), spender: deposits, value: 3n * USD, nonce: 0n, deadline },
    );
    await mined(chain, tokenAs("provider-1").write.permit([addr("client-1"), deposits, 3n * USD, deadline, v, r, s]));
    await mined(
      chain,
      as("client-1").write.depositWithPermit([token, addr("gateway"), addr("client-1"), 3n * USD, deadline, v, r, s]),
    );
    assert.equal(await balance(addr("gateway")), 3n * USD);
  });

  it("refuses zero amounts, zero addresses and deposits the caller cannot pay, moving nothing", async () => {
    await mined(chain, tokenAs("client-1").write.approve([deposits, maxUint256]));
    const d = as("client-1");
    await expectRevert(d.write.deposit([token, addr("gateway"), addr("client-1"), 0n]), "ZeroDeposit");
    await expectRevert(d.write.deposit([token, zeroAddress, addr("client-1"), 1n]), "ZeroGateway");
    await expectRevert(d.write.deposit([token, addr("gateway"), zeroAddress, 1n]), "ZeroAccount");
    await expectRevert(d.write.deposit([zeroAddress, addr("gateway"), addr("client-1"), 1n]), "ZeroToken");
    await expectRevert(
      d.write.depositWithPermit([
        zeroAddress,
        addr("gateway"),
        addr("client-1"),
        1n,
        0n,
        27,
        `0x${"0".repeat(64)}`,
        `0x${"0".repeat(64)}`,
      ]),
      "ZeroToken",
    );
    await expectRevert(
      d.write.deposit([token, addr("gateway"), addr("client-1"), 101n * USD]),
      "ERC20InsufficientBalance",
    );
    await expectRevert(
      as("client-2").write.deposit([token, addr("gateway"), addr("client-2"), 1n]),
      "ERC20InsufficientAllowance",
    );
    assert.equal(await balance(addr("gateway")), 0n);
    assert.equal(await balance(addr("client-1")), 100n * USD);
  });
});
