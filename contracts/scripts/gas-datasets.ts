/**
 * Gas of the data market: registering a dataset, crediting it on a model, and what a claim pays
 * for a model's credited datasets. Each claim is a warm claim of one channel (every recipient
 * already holds tokens, the steady state) on a model crediting 0, 1, 2 or 8 datasets, each owned
 * by a different account; `first` is the 1-dataset claim minus the 0-dataset claim, `perExtra`
 * the cost of each further dataset ((8 - 1) / 7).
 */
import { type Hex, maxUint256 } from "viem";
import type { TestChain } from "../../packages/chain/src/testing.ts";
import { datasetRegistryAbi, modelRegistryAbi, paymentChannelsAbi } from "../generated/index.ts";
import type { Fixture } from "../test/fixture.ts";

const OWNERS = [
  "validator-1",
  "validator-2",
  "validator-3",
  "validator-4",
  "validator-5",
  "client-4",
  "client-5",
  "client-6",
];
const COUNTS = [0, 1, 2, 8] as const;

export async function measureDatasets(
  t: TestChain,
  f: Fixture,
  agentId: bigint,
  report: Record<string, number>,
): Promise<void> {
  const gasOf = async (hash: Promise<Hex>) => Number((await f.mined(hash)).gasUsed);
  const payer = "client-6";
  await f.mint(t.account(payer).address, 10_000_000n);
  await f.approve(payer, f.addresses.paymentChannels, maxUint256);

  const datasetIds: bigint[] = [];
  for (const [i, owner] of OWNERS.entries()) {
    const hash = f.wallet(owner).writeContract({
      address: f.addresses.datasetRegistry,
      abi: datasetRegistryAbi,
      functionName: "register",
      args: [`0x${(i + 1).toString(16).padStart(64, "0")}`, 0, 0n, "ipfs://licence", "ipfs://data"],
    });
    const gas = await gasOf(hash);
    if (i === 0) report["datasetRegistry.register"] = gas;
    datasetIds.push(BigInt(i + 1));
  }

  const gasByCount = new Map<number, number>();
  for (const [round, count] of COUNTS.entries()) {
    const modelId = await f.registerModel("modelOwner", 500);
    for (const [i, datasetId] of datasetIds.slice(0, count).entries()) {
      const gas = await gasOf(
        f.wallet("modelOwner").writeContract({
          address: f.addresses.modelRegistry,
          abi: modelRegistryAbi,
          functionName: "creditDataset",
          args: [modelId, datasetId, 1_000],
        }),
      );
      if (round === 1 && i === 0) report["modelRegistry.creditDataset"] = gas;
    }
    const config = f.channelConfig(payer, agentId, modelId, { salt: 9_000 + round });
    await f.mined(f.as(payer).channels.write.open([config, 1_000_000n]));
    const channelId = await f.channelIdOf(config);
    const claimTo = async (amount: bigint) => {
      const claim = await f.voucherClaim({ channelId, cumulativeAmount: amount, amount, signer: payer });
      return gasOf(
        f.wallet("provider-1").writeContract({
          address: f.addresses.paymentChannels,
          abi: paymentChannelsAbi,
          functionName: "claim",
          args: [[claim]],
        }),
      );
    };
    await claimTo(100_000n); // warm-up: every dataset owner now holds tokens
    const gas = await claimTo(200_000n);
    gasByCount.set(count, gas);
    report[`paymentChannels.claim.datasets.${count}`] = gas;
  }
  const [g0 = 0, g1 = 0, g8 = 0] = [gasByCount.get(0), gasByCount.get(1), gasByCount.get(8)];
  report["paymentChannels.claim.datasets.first"] = g1 - g0;
  report["paymentChannels.claim.datasets.perExtra"] = Math.round((g8 - g1) / 7);
}
