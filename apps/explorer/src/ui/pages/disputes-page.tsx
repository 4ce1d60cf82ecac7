import { useJson } from "../api.ts";
import type { Dispute, Overview, Validator } from "../api-types.ts";
import { DisputesTable } from "../components/disputes-table.tsx";
import { Addr } from "../components/links.tsx";
import { EmptyState, Panel } from "../components/panel.tsx";
import { useExplorer } from "../context.ts";
import { formatAmount } from "../format.ts";

/** Every dispute with its committee's votes and outcome, and the validator set that votes. */
export function DisputesPage({ overview }: { overview: Overview }) {
  const { token } = useExplorer();
  const { data } = useJson<{ data: Dispute[]; validators: Validator[] }>("/api/disputes", overview.updatedAt);
  const disputes = data?.data ?? overview.disputes;
  const validators = data?.validators ?? [];
  return (
    <>
      <Panel
        title="Disputes"
        subtitle="A challenge draws a committee of bonded validators; votes are committed, then revealed; a guilty majority slashes the provider and refunds the payer"
      >
        {disputes.length > 0 ? (
          <DisputesTable disputes={disputes} />
        ) : (
          <EmptyState title="No disputes yet">
            Validators re-score a sample of receipts; a failed audit becomes a challenge and shows up here with its
            votes.
          </EmptyState>
        )}
      </Panel>
      <Panel title="Validators" subtitle="Bonded in Disputes; drawn at random into committees">
        {validators.length > 0 ? (
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th>Validator</th>
                  <th>Agent</th>
                  <th>Status</th>
                  <th className="num">Bond</th>
                  <th className="num">Votes revealed</th>
                  <th className="num">Rewarded</th>
                  <th className="num">Penalized</th>
                </tr>
              </thead>
              <tbody>
                {validators.map((v) => (
                  <tr key={v.validator}>
                    <td>
                      <Addr address={v.validator} />
                    </td>
                    <td className="mono">#{v.agentId}</td>
                    <td>
                      <span className={`status ${v.active ? "good" : "muted"}`}>{v.active ? "bonded" : "left"}</span>
                    </td>
                    <td className="num">{formatAmount(v.bond, token.decimals)}</td>
                    <td className="num">{v.votes}</td>
                    <td className="num good">{formatAmount(v.rewarded, token.decimals)}</td>
                    <td className={`num ${v.penalized !== "0" ? "bad" : "muted"}`}>
                      {formatAmount(v.penalized, token.decimals)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <EmptyState title="No validator has bonded yet">
            Validators join with <code>verity validator start</code>; committees are drawn from them.
          </EmptyState>
        )}
      </Panel>
    </>
  );
}
