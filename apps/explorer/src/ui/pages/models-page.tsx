import { useJson } from "../api.ts";
import type { Dataset, Overview } from "../api-types.ts";
import { DatasetsTable } from "../components/datasets-table.tsx";
import { ModelsTable } from "../components/models-table.tsx";
import { EmptyState, Panel } from "../components/panel.tsx";
import { PriceStrip } from "../components/price-strip.tsx";
import { ShareBars, type ShareRow } from "../components/share-bars.tsx";
import { useExplorer } from "../context.ts";
import { formatAmount } from "../format.ts";

/** Registered models, their prices across providers, their market share and the datasets they credit. */
export function ModelsPage({ overview }: { overview: Overview }) {
  const { token } = useExplorer();
  const datasets = useJson<{ data: Dataset[] }>("/api/datasets", overview.updatedAt).data?.data ?? [];
  const byVolume: ShareRow[] = overview.models.map((m) => ({
    key: m.modelId,
    label: m.name,
    share: m.volumeShare,
    detail: `${formatAmount(m.settledVolume, token.decimals)} ${token.symbol}`,
  }));
  const byRequests: ShareRow[] = overview.models.map((m) => ({
    key: m.modelId,
    label: m.name,
    share: m.requestShare,
    detail: `${m.requests} req`,
  }));
  return (
    <>
      <Panel title="Models" subtitle="Registered in the ModelRegistry; royalties go to their owners on every claim">
        {overview.models.length > 0 ? (
          <ModelsTable models={overview.models} />
        ) : (
          <EmptyState title="No model registered yet">
            A model owner registers weights and tokenizer hashes with <code>verity model register</code>; providers then
            publish offers for it.
          </EmptyState>
        )}
      </Panel>
      <Panel
        title="Datasets"
        subtitle="Registered in the DatasetRegistry; every claim pays each credited dataset its share of the model's royalty"
      >
        {datasets.length > 0 ? (
          <DatasetsTable datasets={datasets} models={overview.models} />
        ) : (
          <EmptyState title="No dataset registered yet">
            A contributor registers a dataset with <code>verity data register</code>; a model owner credits it with{" "}
            <code>verity model credit-dataset</code>.
          </EmptyState>
        )}
      </Panel>
      <div className="grid-1-1">
        <Panel title="Price distribution" subtitle="Every live offer, per model">
          {overview.models.some((m) => m.prices.length > 0) ? (
            <PriceStrip models={overview.models} />
          ) : (
            <EmptyState title="No live offers">Providers publish offers when they start.</EmptyState>
          )}
        </Panel>
        <Panel title="Market share" subtitle="By settled volume on chain, and by requests through this gateway">
          <h3 className="mini-title">Settled volume</h3>
          <ShareBars rows={byVolume} empty={<EmptyState compact title="No claims settled yet" />} />
          <h3 className="mini-title">Requests</h3>
          <ShareBars rows={byRequests} empty={<EmptyState compact title="No requests yet" />} />
        </Panel>
      </div>
    </>
  );
}
