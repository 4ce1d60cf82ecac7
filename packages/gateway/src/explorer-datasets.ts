import type { DatabaseSync } from "node:sqlite";

/** A dataset as the explorer shows it: its terms, the models crediting it and what claims paid it. */
export type DatasetRow = {
  datasetId: string;
  digest: string;
  owner: string;
  minShareBps: number;
  pricePerUse: string;
  licenceURI: string;
  uri: string;
  /** Models crediting it, with its current share of each model's royalty (bps of the royalty). */
  credits: { modelId: string; shareBps: number }[];
  /** Everything claims paid it, in payment-token base units. */
  earned: string;
  /** What each payee (contributor) was paid: one row per address it was owned by when paid. */
  payees: { to: string; amount: string; payments: number }[];
};

type EventRow = { name: string; args: string };

/**
 * Datasets folded from the indexer's stored events: `DatasetRegistered` / `DatasetTransferred`
 * (DatasetRegistry), `DatasetCredited` (ModelRegistry) and `DatasetRoyaltyPaid` (PaymentChannels),
 * in chain order. Sorted by dataset id.
 */
export function datasetRows(db: DatabaseSync): DatasetRow[] {
  const rows = db
    .prepare(
      `SELECT name, args FROM events
       WHERE name IN ('DatasetRegistered', 'DatasetTransferred', 'DatasetCredited', 'DatasetRoyaltyPaid')
       ORDER BY block, log_index`,
    )
    .all() as EventRow[];
  const datasets = new Map<
    string,
    DatasetRow & { earnedBig: bigint; paid: Map<string, { amount: bigint; payments: number }> }
  >();
  for (const row of rows) {
    const a = JSON.parse(row.args) as Record<string, string | number>;
    const id = String(a.datasetId);
    if (row.name === "DatasetRegistered") {
      datasets.set(id, {
        datasetId: id,
        digest: String(a.digest),
        owner: String(a.owner),
        minShareBps: Number(a.minShareBps),
        pricePerUse: String(a.pricePerUse),
        licenceURI: String(a.licenceURI),
        uri: String(a.uri),
        credits: [],
        earned: "0",
        payees: [],
        earnedBig: 0n,
        paid: new Map(),
      });
      continue;
    }
    const dataset = datasets.get(id);
    if (!dataset) continue;
    if (row.name === "DatasetTransferred") dataset.owner = String(a.newOwner);
    else if (row.name === "DatasetCredited") {
      const modelId = String(a.modelId);
      const credit = dataset.credits.find((c) => c.modelId === modelId);
      if (credit) credit.shareBps = Number(a.shareBps);
      else dataset.credits.push({ modelId, shareBps: Number(a.shareBps) });
    } else {
      const amount = BigInt(String(a.amount));
      const to = String(a.to);
      const payee = dataset.paid.get(to.toLowerCase()) ?? { amount: 0n, payments: 0 };
      payee.amount += amount;
      payee.payments += 1;
      dataset.paid.set(to.toLowerCase(), payee);
      if (!dataset.payees.some((p) => p.to.toLowerCase() === to.toLowerCase())) {
        dataset.payees.push({ to, amount: "0", payments: 0 });
      }
      dataset.earnedBig += amount;
    }
  }
  return [...datasets.values()]
    .sort((x, y) => Number(BigInt(x.datasetId) - BigInt(y.datasetId)))
    .map(({ earnedBig, paid, ...dataset }) => ({
      ...dataset,
      earned: earnedBig.toString(),
      payees: dataset.payees.map((p) => {
        const total = paid.get(p.to.toLowerCase());
        return { to: p.to, amount: (total?.amount ?? 0n).toString(), payments: total?.payments ?? 0 };
      }),
    }));
}
