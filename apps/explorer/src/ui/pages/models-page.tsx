import type { Overview } from "../api-types.ts";
import { ModelsTable } from "../components/models-table.tsx";
import { EmptyState, Panel } from "../components/panel.tsx";
import { PriceStrip } from "../components/price-strip.tsx";
import { ShareBars, type ShareRow } from "../components/share-bars.tsx";
import { useExplorer } from "../context.ts";
import { formatAmount } from "../format.ts";

/** Registered models, their prices across providers and their market share. */
export function ModelsPage({ overview }: { overview: Overview }) {
  const { token } = useExplorer();
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
