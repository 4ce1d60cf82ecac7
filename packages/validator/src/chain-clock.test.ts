import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import { createChainClock } from "./chain-clock.ts";

let t: TestChain;
before(async () => {
  t = await createTestChain();
});
after(async () => {
  await t.close();
});

test("chain time is the latest block's timestamp, advanced by local time while no block is mined", async () => {
  let local = 1_000_000;
  const clock = createChainClock({ publicClient: t.publicClient, now: () => local });
  const latest = async () => Number((await t.publicClient.getBlock({ blockTag: "latest" })).timestamp);
  assert.equal(await clock.now(), await latest());
  local += 7_500;
  assert.equal(await clock.now(), (await latest()) + 7);
  // A jump of the chain's clock (evm_increaseTime + a block) shows at once.
  await t.increaseTime(3_600);
  assert.equal(await clock.now(), await latest());
});
