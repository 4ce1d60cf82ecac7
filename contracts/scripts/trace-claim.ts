/**
 * Where a single-channel `claim` spends its gas: deploys on a fresh in-process chain, opens two
 * channels, claims one (so provider, model owner and treasury already hold tokens, as in the gas
 * snapshot's `claim.warm`), then traces a claim of the other and sums the gas by opcode and by call
 * frame (PaymentChannels itself, the registries, each token transfer).
 *
 *   node contracts/scripts/trace-claim.ts
 */
import { maxUint256 } from "viem";
import { createTestChain } from "../../packages/chain/src/testing.ts";
import { deployFixture } from "../test/fixture.ts";

type StructLog = { op: string; gas: number; gasCost: number; depth: number };

const t = await createTestChain();
try {
  const f = await deployFixture(t);
  const agentId = await f.registerAgent("provider-1");
  const modelId = await f.registerModel("modelOwner", 500);
  await f.mint(t.account("client-1").address, 10_000_000n);
  await f.approve("client-1", f.addresses.paymentChannels, maxUint256);
  const ids = [];
  for (const salt of [0, 1]) {
    const config = f.channelConfig("client-1", agentId, modelId, { salt });
    await f.mined(f.as("client-1").channels.write.open([config, 1_000_000n]));
    ids.push(await f.channelIdOf(config));
  }
  const claim = async (channelId: `0x${string}`) =>
    f.mined(
      f
        .as("provider-1")
        .channels.write.claim([
          [await f.voucherClaim({ channelId, cumulativeAmount: 250_000n, amount: 200_000n, signer: "client-1" })],
        ]),
    );
  await claim(ids[0] as `0x${string}`);
  const receipt = await claim(ids[1] as `0x${string}`);
  const trace = (await t.edr.provider.request({
    method: "debug_traceTransaction",
    params: [receipt.transactionHash, { disableStorage: true, disableMemory: true, disableStack: true }],
  } as never)) as { gas: number; structLogs: StructLog[] };
  const byOp = new Map<string, number>();
  const byDepth = new Map<number, number>();
  const logs = trace.structLogs;
  for (const [i, log] of logs.entries()) {
    // A call's gasCost includes what it forwards; count only its own cost (the next step at depth+1 starts the callee).
    const next = logs[i + 1];
    const own = next && next.depth > log.depth ? log.gas - next.gas : log.gasCost;
    byOp.set(log.op, (byOp.get(log.op) ?? 0) + own);
    byDepth.set(log.depth, (byDepth.get(log.depth) ?? 0) + own);
  }
  const execution = [...byOp.values()].reduce((a, b) => a + b, 0);
  console.log(`claim of one channel: ${receipt.gasUsed} gas used; ${execution} in execution, the rest base + calldata`);
  console.log("by opcode (top 12):");
  for (const [op, gas] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${op.padEnd(12)} ${gas}`);
  console.log("by call depth (1 = PaymentChannels, 2 = registries and token):");
  for (const [depth, gas] of [...byDepth].sort((a, b) => a[0] - b[0])) console.log(`  ${depth} ${gas}`);
  // Each call frame at depth 2: which contract, how much.
  let frame: { start: number; op: string } | undefined;
  const frames: string[] = [];
  for (const [i, log] of logs.entries()) {
    const next = logs[i + 1];
    if (log.depth === 1 && next && next.depth === 2) frame = { start: log.gas, op: log.op };
    if (frame && log.depth === 2 && next && next.depth === 1) {
      frames.push(`${frame.op} ${frame.start - next.gas}`);
      frame = undefined;
    }
  }
  console.log(`calls from PaymentChannels (gas each, incl. the call's own cost): ${frames.join(", ")}`);
} finally {
  await t.close();
}
