import { test } from "node:test";
import { createTestChain } from "../../packages/chain/src/testing.ts";
import { paymentChannelsAbi } from "../generated/index.ts";
import { deployFixture } from "./fixture.ts";

test("smoke", async () => {
  let s = performance.now();
  const t = await createTestChain();
  console.log("chain", performance.now() - s); s = performance.now();
  const f = await deployFixture(t);
  console.log("deploy", performance.now() - s); s = performance.now();
  const agent = await f.registerAgent("provider-1");
  const model = await f.registerModel("modelOwner", 500);
  const cfg = f.channelConfig("client-1", agent, model);
  const { channelId, receipt } = await f.openChannel("client-1", cfg, 1_000_000n);
  console.log("open gas", receipt.gasUsed, performance.now() - s); s = performance.now();
  const claim = await f.voucherClaim({ channelId, cumulativeAmount: 300_000n, signer: "client-1" });
  const r = await f.mined(t.wallet("provider-1").writeContract({ address: f.addresses.paymentChannels, abi: paymentChannelsAbi, functionName: "claim", args: [[claim]] }));
  console.log("claim gas", r.gasUsed, performance.now() - s); s = performance.now();
  for (const a of ["provider-1", "modelOwner", "treasury", "client-1"]) console.log(a, await f.balanceOf(t.account(a).address));
  for (let i = 0; i < 50; i++) await f.balanceOf(t.account("client-1").address);
  console.log("50 reads", performance.now() - s); s = performance.now();
  const snap = await t.snapshot(); await snap();
  console.log("snap+revert", performance.now() - s); s = performance.now();
  await t.close();
});
