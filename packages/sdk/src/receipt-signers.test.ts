import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import { deployFixture, type Fixture } from "../../../contracts/test/fixture.ts";
import { createReceiptSigners } from "./receipt-signers.ts";

let t: TestChain;
let f: Fixture;
before(async () => {
  t = await createTestChain();
  f = await deployFixture(t);
});
after(() => t.close());

test("a channel's receipt signer is the one fixed at open, whatever the agent's wallet or owner later", async () => {
  const agentId = await f.registerAgent("provider-1");
  const modelId = await f.registerModel("modelOwner", 0);
  const { channelId } = await f.openChannel("client-1", f.channelConfig("client-1", agentId, modelId), 1_000n);
  const signers = createReceiptSigners({ publicClient: t.publicClient, paymentChannels: f.addresses.paymentChannels });
  await f.setAgentWallet("provider-1", agentId, "provider-2");
  assert.equal(await signers.isSigner(channelId, t.account("provider-1").address), true);
  assert.equal(await signers.isSigner(channelId, t.account("provider-2").address), false, "a later wallet");
  const later = await f.openChannel("client-1", f.channelConfig("client-1", agentId, modelId, { salt: 1 }), 1_000n);
  assert.equal(await signers.isSigner(later.channelId, t.account("provider-2").address), true);
  assert.equal(await signers.isSigner(later.channelId, t.account("provider-1").address), false);
  const unknown = `0x${"ab".repeat(32)}` as const;
  assert.equal(await signers.isSigner(unknown, t.account("provider-1").address), false, "a channel never opened");
});
