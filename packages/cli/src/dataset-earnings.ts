import { paymentChannelsAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import type { PublicClient } from "viem";

/** What one dataset was paid at one address, summed over every claim since the deployment. */
export type DatasetEarning = {
  datasetId: bigint;
  to: `0x${string}`;
  amount: bigint;
  /** How many `DatasetRoyaltyPaid` events (one per claim call and run of a model's claims). */
  payments: number;
  /** The models whose royalties paid it. */
  modelIds: bigint[];
};

/**
 * Dataset earnings from PaymentChannels' `DatasetRoyaltyPaid` events since the deployment's first
 * block, grouped by dataset and payee (a dataset that changed hands shows one row per owner),
 * optionally only for one dataset or one payee. Sorted by dataset id, then payee.
 */
export async function readDatasetEarnings(args: {
  publicClient: PublicClient;
  deployment: Deployment;
  datasetId?: bigint;
  owner?: `0x${string}`;
}): Promise<DatasetEarning[]> {
  const logs = await args.publicClient.getContractEvents({
    address: args.deployment.contracts.PaymentChannels.address,
    abi: paymentChannelsAbi,
    eventName: "DatasetRoyaltyPaid",
    args: {
      ...(args.datasetId === undefined ? {} : { datasetId: args.datasetId }),
      ...(args.owner === undefined ? {} : { to: args.owner }),
    },
    fromBlock: BigInt(args.deployment.startBlock),
    toBlock: "latest",
  });
  const rows = new Map<string, DatasetEarning>();
  for (const log of logs) {
    const { datasetId, modelId, to, amount } = log.args;
    if (datasetId === undefined || modelId === undefined || to === undefined || amount === undefined) continue;
    const key = `${datasetId}:${to.toLowerCase()}`;
    const row = rows.get(key) ?? { datasetId, to, amount: 0n, payments: 0, modelIds: [] };
    row.amount += amount;
    row.payments += 1;
    if (!row.modelIds.includes(modelId)) row.modelIds.push(modelId);
    rows.set(key, row);
  }
  return [...rows.values()].sort((a, b) =>
    a.datasetId === b.datasetId
      ? a.to.toLowerCase().localeCompare(b.to.toLowerCase())
      : a.datasetId < b.datasetId
        ? -1
        : 1,
  );
}
