import { useJson } from "../api.ts";
import type { TxDetail } from "../api-types.ts";
import { EventFeed } from "../components/event-feed.tsx";
import { EmptyState, Panel } from "../components/panel.tsx";
import { useExplorer } from "../context.ts";

/** The protocol events of one transaction (used when no block explorer is configured). */
export function TxPage({ hash }: { hash: string }) {
  const { chainNow } = useExplorer();
  const { data, error } = useJson<TxDetail>(`/api/tx/${hash}`, 0);
  return (
    <Panel title="Transaction" subtitle={<span className="mono break">{hash}</span>}>
      {error && <EmptyState title="Not found">{error}</EmptyState>}
      {data && (
        <>
          <dl className="facts">
            <div>
              <dt>Block</dt>
              <dd>#{data.block}</dd>
            </div>
            <div>
              <dt>Time</dt>
              <dd>{new Date(data.timestamp * 1000).toLocaleString()}</dd>
            </div>
            <div>
              <dt>Events</dt>
              <dd>{data.events.length}</dd>
            </div>
            <div>
              <dt>Age</dt>
              <dd>{Math.max(0, chainNow - data.timestamp)} s</dd>
            </div>
          </dl>
          <EventFeed events={data.events} />
        </>
      )}
    </Panel>
  );
}
