import type { OracleRequest, OracleStep } from "../api-types.ts";
import { useExplorer } from "../context.ts";
import { formatAmount, timeAgo } from "../format.ts";
import { Addr, AgentLink, TxLink } from "./links.tsx";

const BADGE: Record<OracleRequest["status"], string> = {
  requested: "warn",
  answered: "warn",
  challenged: "bad",
  rejected: "bad",
  finalized: "good",
  refunded: "muted",
};

/** A request's status as a badge (an answer inside its challenge window reads "answered"). */
export function OracleStatus({ r }: { r: OracleRequest }) {
  return <span className={`status ${BADGE[r.status]}`}>{r.status}</span>;
}

function Step({ label, step, tone }: { label: string; step: OracleStep | null; tone: string }) {
  const { chainNow } = useExplorer();
  return (
    <li className={`oracle-step ${step ? tone : "pending"}`} data-step={label}>
      <span className="oracle-dot" />
      <span className="oracle-step-label">{label}</span>
      {step ? (
        <>
          <small className="muted">{timeAgo({ at: step.at, now: chainNow })}</small>
          <TxLink hash={step.txHash} />
        </>
      ) : (
        <small className="muted">pending</small>
      )}
    </li>
  );
}

/** Request → answer → (challenge) → finalize or refund, each with its time and transaction. */
function Timeline({ r }: { r: OracleRequest }) {
  const t = r.timeline;
  return (
    <ol className="oracle-timeline">
      <Step label="requested" step={t.requested} tone="good" />
      {(t.answered || !t.refunded) && <Step label="answered" step={t.answered} tone="good" />}
      {t.challenged && <Step label="challenged" step={t.challenged} tone="bad" />}
      {t.challenged && (
        <Step
          label={r.challenge?.resolution === "guilty" ? "slashed" : "resolved"}
          step={t.resolved}
          tone={r.challenge?.resolution === "guilty" ? "bad" : "good"}
        />
      )}
      {t.refunded ? (
        <Step label="refunded" step={t.refunded} tone="muted" />
      ) : (
        r.status !== "rejected" && <Step label="finalized" step={t.finalized} tone="good" />
      )}
    </ol>
  );
}

function Callback({ r }: { r: OracleRequest }) {
  if (!r.callbackTarget) return <span className="muted">no callback</span>;
  return (
    <span>
      callback <Addr address={r.callbackTarget} />{" "}
      {r.callbackOk === null ? (
        <span className="status muted">not called</span>
      ) : r.callbackOk ? (
        <span className="status good">ok</span>
      ) : (
        <span className="status bad">failed</span>
      )}
    </span>
  );
}

/** Oracle requests as cards: who asked what, which provider answered what, and the timeline. */
export function OracleCards({ requests, modelName }: { requests: OracleRequest[]; modelName: (id: string) => string }) {
  const { token } = useExplorer();
  return (
    <ul className="oracle-cards">
      {requests.map((r) => (
        <li key={r.requestId} data-oracle-request={r.requestId} data-status={r.status}>
          <div className="dc-head">
            <span className="mono strong">#{r.requestId}</span>
            <OracleStatus r={r} />
            <span className="model-name">{modelName(r.modelId)}</span>
            <span className="muted">
              fee {formatAmount(r.fee, token.decimals)} {token.symbol}
            </span>
            <span className="spacer" />
            <span className="muted">by</span>
            <Addr address={r.requester} />
          </div>
          <div className="oracle-qa">
            <div>
              <small className="muted">Prompt</small>
              <p className="oracle-text">{r.prompt ?? (r.promptURI || r.promptHash)}</p>
            </div>
            <div>
              <small className="muted">
                Answer
                {r.answer && (
                  <>
                    {" "}
                    by <AgentLink agentId={r.answer.agentId} /> · {r.answer.completionTokens} tokens
                  </>
                )}
              </small>
              <p className="oracle-text oracle-answer">
                {r.answer ? `${r.answer.text}${r.answer.truncated ? "…" : ""}` : <span className="muted">—</span>}
              </p>
            </div>
          </div>
          <div className="dc-body">
            <Timeline r={r} />
            <span className="spacer" />
            <Callback r={r} />
            {r.payout && (
              <span className="muted">
                paid {formatAmount(r.payout.provider, token.decimals)} provider ·{" "}
                {formatAmount(r.payout.royalty, token.decimals)} royalty
              </span>
            )}
          </div>
        </li>
      ))}
    </ul>
  );
}
