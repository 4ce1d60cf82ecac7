import type { FeedEvent } from "../api-types.ts";
import { useExplorer } from "../context.ts";
import { describeEvent } from "../events.ts";
import { timeAgo } from "../format.ts";
import { AgentLink, TxLink } from "./links.tsx";

/** A list of protocol events, newest first, each with what happened and its transaction. */
export function EventFeed({ events }: { events: FeedEvent[] }) {
  const { token, chainNow } = useExplorer();
  return (
    <ol className="feed">
      {events.map((e) => {
        const d = describeEvent(e, token);
        return (
          <li key={`${e.block}:${e.log_index}`} className={`feed-item tone-${d.tone}`} data-event={e.name}>
            <span className="feed-marker" aria-hidden="true" />
            <div className="feed-main">
              <div className="feed-title">
                <span>{d.title}</span>
                {d.agentId && <AgentLink agentId={d.agentId} />}
              </div>
              <div className="feed-text">{d.text}</div>
            </div>
            <div className="feed-meta">
              <TxLink hash={e.tx_hash} />
              <span className="muted" title={new Date(e.timestamp * 1000).toISOString()}>
                #{e.block} · {timeAgo({ at: e.timestamp, now: chainNow })}
              </span>
            </div>
          </li>
        );
      })}
    </ol>
  );
}
