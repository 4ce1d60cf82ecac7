import { useState } from "react";
import type { Overview } from "../api-types.ts";
import { Panel } from "../components/panel.tsx";
import { ProvidersTable } from "../components/providers-table.tsx";
import { NoProviders } from "./overview-page.tsx";

const SORTS = { traffic: "Traffic", earnings: "Earnings", stake: "Stake", id: "Agent id" } as const;
type Sort = keyof typeof SORTS;

/** Every staked provider, sortable. */
export function ProvidersPage({ overview }: { overview: Overview }) {
  const [sort, setSort] = useState<Sort>("traffic");
  const key = (p: Overview["providers"][number]): bigint =>
    sort === "traffic"
      ? BigInt(p.requests)
      : sort === "earnings"
        ? BigInt(p.earnings)
        : sort === "stake"
          ? BigInt(p.stake)
          : -BigInt(p.agentId);
  const providers = [...overview.providers].sort((a, b) => (key(b) > key(a) ? 1 : key(b) < key(a) ? -1 : 0));
  return (
    <Panel
      title="Providers"
      subtitle={`${overview.network.providersOnline} online of ${overview.providers.length} staked`}
      actions={
        <div className="segmented" role="tablist">
          {(Object.keys(SORTS) as Sort[]).map((s) => (
            <button type="button" key={s} className={s === sort ? "on" : ""} onClick={() => setSort(s)}>
              {SORTS[s]}
            </button>
          ))}
        </div>
      }
    >
      {providers.length > 0 ? <ProvidersTable providers={providers} /> : <NoProviders />}
    </Panel>
  );
}
