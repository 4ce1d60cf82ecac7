/** OracleMarketResolver: a prediction market resolved by the inference oracle's answer. */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { type Hex, parseEventLogs, toHex, zeroAddress } from "viem";
import { createTestChain, expectRevert, type TestChain } from "../../packages/chain/src/testing.ts";
import { inferenceOracleAbi, inferenceOracleBytecode } from "../generated/index.ts";
import { deployRevertName } from "./chain-helpers.ts";
import { type OracleScene, oracleScene } from "./oracle-helpers.ts";

describe("OracleMarketResolver", () => {
  let t: TestChain;
  let s: OracleScene;

  before(async () => {
    t = await createTestChain();
    s = await oracleScene(t);
    for (const name of ["client-1", "client-2", "provider-1"]) {
      await s.f.approve(name, s.f.addresses.oracleMarketResolver, 10n ** 12n);
    }
  });
  beforeEach(() => s.reset());
  after(() => t.close());

  async function marketWithBets() {
    const closesAt = (await s.f.publicClient.getBlock()).timestamp + 100n;
    await s.f.mined(s.market("client-1").write.createMarket(["Will it rain tomorrow?", closesAt]));
    await s.f.mined(s.market("client-1").write.bet([1n, true, 300n]));
    await s.f.mined(s.market("client-2").write.bet([1n, false, 100n]));
    await expectRevert(
      s.market("client-1").write.requestResolution([1n, s.modelId, 1n, 100n, 16, 7n, closesAt + 3600n]),
      "NotResolvable",
    );
    await t.increaseTime(101n);
    await expectRevert(s.market("client-1").write.bet([1n, true, 1n]), "BettingClosed");
    return closesAt;
  }

  /** Asks the oracle, answers `answer` as provider-1, waits out the window and finalizes. */
  async function resolveWith(closesAt: bigint, answer: Hex) {
    const tx = await s.f.mined(
      s.market("client-1").write.requestResolution([1n, s.modelId, s.offerId, 100n, 16, 7n, closesAt + 3600n]),
    );
    const [event] = parseEventLogs({ abi: inferenceOracleAbi, logs: tx.logs, eventName: "OracleRequested" });
    if (!event) throw new Error("no request");
    const params = { ...event.args.params, prompt: event.args.params.prompt as Hex };
    await s.f.mined(s.answer(event.args.requestId, params, { answer }));
    await t.increaseTime(s.challengeWindow + 1n);
    await s.f.mined(s.oracle("client-2").write.finalize([event.args.requestId]));
    return event.args.requestId;
  }

  test('a "yes" answer resolves the market and the winners share the pool', async () => {
    const closesAt = await marketWithBets();
    await resolveWith(closesAt, toHex("  Yes, it will rain."));
    assert.equal((await s.market("client-1").read.getMarket([1n])).outcome, 1);
    const before = await s.f.balanceOf(t.account("client-1").address);
    await s.f.mined(s.market("client-1").write.claim([1n]));
    assert.equal(await s.f.balanceOf(t.account("client-1").address), before + 400n);
    await expectRevert(s.market("client-2").write.claim([1n]), "NothingToClaim");
  });

  test("an answer that is neither yes nor no refunds every bet", async () => {
    const closesAt = await marketWithBets();
    await resolveWith(closesAt, toHex("maybe"));
    assert.equal((await s.market("client-1").read.getMarket([1n])).outcome, 3);
    const before = await s.f.balanceOf(t.account("client-2").address);
    await s.f.mined(s.market("client-2").write.claim([1n]));
    assert.equal(await s.f.balanceOf(t.account("client-2").address), before + 100n);
  });

  test("only the oracle may deliver the answer, and a refunded request's fee returns to its payer", async () => {
    const closesAt = await marketWithBets();
    await expectRevert(s.market("client-2").write.onOracleAnswer([1n, toHex("no")]), "NotOracle");
    await expectRevert(s.market("client-2").write.bet([9n, true, 1n]), "UnknownMarket");
    await expectRevert(s.market("client-2").write.bet([1n, true, 0n]), "BettingClosed");
    const tx = await s.f.mined(
      s.market("client-1").write.requestResolution([1n, s.modelId, s.offerId, 100n, 16, 7n, closesAt + 3600n]),
    );
    const [event] = parseEventLogs({ abi: inferenceOracleAbi, logs: tx.logs, eventName: "OracleRequested" });
    const requestId = event?.args.requestId ?? 0n;
    await expectRevert(s.market("client-1").write.reclaimFee([requestId]), "NothingToClaim");
    await t.increaseTime(3601n);
    await s.f.mined(s.oracle("client-2").write.refund([requestId]));
    const before = await s.f.balanceOf(t.account("client-1").address);
    await s.f.mined(s.market("client-2").write.reclaimFee([requestId]));
    assert.equal(await s.f.balanceOf(t.account("client-1").address), before + 100n);
    assert.equal((await s.market("client-1").read.getMarket([1n])).requestId, 0n, "a new resolution may be asked");
  });

  test("a market nobody resolved refunds its bets after the timeout", async () => {
    await marketWithBets();
    await expectRevert(s.market("client-1").write.claim([1n]), "NothingToClaim");
    await t.increaseTime(7n * 86_400n + 1n);
    await s.f.mined(s.market("client-1").write.claim([1n]));
  });

  test("bad bets and markets are refused", async () => {
    const latest = (await s.f.publicClient.getBlock()).timestamp;
    await expectRevert(s.market("client-1").write.createMarket(["late", latest]), "BettingClosed");
    await s.f.mined(s.market("client-1").write.createMarket(["q", latest + 100n]));
    await expectRevert(s.market("client-1").write.bet([1n, true, 0n]), "ZeroAmount");
  });

  test("the oracle refuses a zero resolver or a zero window at deployment", async () => {
    const base = {
      resolver: t.account("deployer").address,
      answerBond: 1n,
      challengeBond: 1n,
      challengeWindow: 60n,
      resolveTimeout: 60n,
      maxCallbackGas: 100_000,
    };
    const contract = { abi: inferenceOracleAbi, bytecode: inferenceOracleBytecode };
    const args = (p: typeof base) => [s.f.addresses.staking, s.f.addresses.paymentChannels, p];
    assert.equal(await deployRevertName(t, contract, args({ ...base, resolver: zeroAddress })), "ZeroAddress");
    assert.equal(await deployRevertName(t, contract, args({ ...base, challengeWindow: 0n })), "InvalidParameters");
    assert.equal(await deployRevertName(t, contract, args(base)), undefined);
  });
});
