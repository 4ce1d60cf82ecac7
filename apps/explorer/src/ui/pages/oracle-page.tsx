import { useJson } from "../api.ts";
import type { OraclePage as OracleList, Overview } from "../api-types.ts";
import { OracleCards } from "../components/oracle-cards.tsx";
import { EmptyState, Panel } from "../components/panel.tsx";
import { href } from "../router.ts";

const PAGE = 20;

/** The inference oracle's requests, newest first, twenty a page (`before`: ids below it). */
export function OraclePage({ overview, before }: { overview: Overview; before?: string }) {
  const path = `/api/oracle?limit=${PAGE}${before ? `&before=${before}` : ""}`;
  const { data, error } = useJson<OracleList>(path, overview.updatedAt);
  const modelName = (id: string) => overview.models.find((m) => m.modelId === id)?.name ?? `model #${id}`;
  return (
    <Panel
      title="Oracle requests"
      subtitle="Contracts ask a model through the InferenceOracle; a staked provider answers with a signed receipt and a bond, anyone may challenge within the window, then finalize pays and calls back"
      actions={
        <span className="muted">
          {data ? `${data.total} ${before ? `below #${before}` : "in all"}` : ""}
          {before && (
            <>
              {" · "}
              <a href={href.oracle()}>newest</a>
            </>
          )}
          {data?.next && (
            <>
              {" · "}
              <a href={href.oracle(data.next)}>older →</a>
            </>
          )}
        </span>
      }
    >
      {data && data.data.length > 0 ? (
        <OracleCards requests={data.data} modelName={modelName} />
      ) : data ? (
        <EmptyState title="No oracle request yet">
          A contract (or anyone) posts one with <code>InferenceOracle.request</code>; the devnet's market resolver asks
          with <code>requestResolution</code>, and <code>verity oracle serve</code> answers.
        </EmptyState>
      ) : (
        <div className="loading">{error ?? "Loading oracle requests…"}</div>
      )}
    </Panel>
  );
}
