import { useJson } from "../api.ts";
import type { OraclePage, Overview } from "../api-types.ts";
import { OracleCards } from "../components/oracle-cards.tsx";
import { Panel } from "../components/panel.tsx";
import { href } from "../router.ts";

/** The oracle requests a provider answered (its latest ten); nothing when it answered none. */
export function ProviderOracleAnswers({ agentId, overview }: { agentId: string; overview: Overview }) {
  const { data } = useJson<OraclePage>(`/api/oracle?agent=${agentId}&limit=10`, overview.updatedAt);
  if (!data || data.data.length === 0) return null;
  const modelName = (id: string) => overview.models.find((m) => m.modelId === id)?.name ?? `model #${id}`;
  return (
    <Panel
      title="Oracle answers"
      subtitle="Inference-oracle requests this provider answered, with a bond, for contracts"
      actions={
        <span className="muted">
          {data.total} in all · <a href={href.oracle()}>all requests</a>
        </span>
      }
    >
      <OracleCards requests={data.data} modelName={modelName} />
    </Panel>
  );
}
