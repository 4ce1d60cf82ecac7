import { useState } from "react";
import { useJson } from "../api.ts";
import type { FeedEvent, Overview } from "../api-types.ts";
import { EventFeed } from "../components/event-feed.tsx";
import { EmptyState, Panel } from "../components/panel.tsx";
import { useExplorer } from "../context.ts";
import { CATEGORIES, type Category, describeEvent } from "../events.ts";

/** Every protocol event (the latest 200), filterable by kind. */
export function ActivityPage({ overview }: { overview: Overview }) {
  const { token } = useExplorer();
  const [category, setCategory] = useState<Category | "all">("all");
  const { data, error } = useJson<{ data: FeedEvent[] }>("/api/events?limit=200", overview.updatedAt);
  const events = (data?.data ?? overview.events).filter(
    (e) => category === "all" || describeEvent(e, token).category === category,
  );
  return (
    <Panel
      title="Activity"
      subtitle="Protocol events, newest first, each linked to its transaction"
      actions={
        <div className="segmented" role="tablist">
          {CATEGORIES.map((c) => (
            <button
              type="button"
              key={c.id}
              className={c.id === category ? "on" : ""}
              onClick={() => setCategory(c.id)}
            >
              {c.label}
            </button>
          ))}
        </div>
      }
    >
      {error && <p className="error-line">{error}</p>}
      {events.length > 0 ? (
        <EventFeed events={events} />
      ) : (
        <EmptyState title="Nothing here yet">Events of this kind appear as they are indexed.</EmptyState>
      )}
    </Panel>
  );
}
